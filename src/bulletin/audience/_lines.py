"""Physical lines of an input stream, read in blocks and checked for size and UTF-8.

Lines end at "\\n" only (a lone "\\r" stays inside its line, as with readline). The
stream is read a block at a time and each block is decoded at once; a block that holds
bad text still yields its good lines first, then raises naming the first bad line. No
more than one line's limit is ever held for a line that has not ended.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from bulletin import errors

LINE_LIMIT = 1_048_576
"""The longest line accepted, in bytes, not counting its line ending."""

BLOCK_SIZE = 262_144
"""Bytes read from the stream at a time; below LINE_LIMIT, so only a line carried over
from earlier blocks can be too long."""

_BYTE_ORDER_MARK = "\ufeff"
_UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


def read_lines(stream: BinaryIO | TextIO, source: str) -> Iterator[str]:
    """Yield each physical line of a stream, line ending included; raise InputError for bad text.

    The n-th line yielded is line n of the file.
    """
    lines = _Counter(source)
    pending = b""
    for block in _blocks(stream, source):
        if lines.done == 0 and not pending and block.startswith(_UTF16_MARKS):
            raise errors.InputError("file is UTF-16 text; save it as UTF-8", source=source, line=1)
        data = pending + block if pending else block
        end = data.rfind(b"\n") + 1
        if end == 0:
            if len(data) > LINE_LIMIT + 1:  # room for a "\r" before the "\n" still to come
                raise _too_long(source, lines.done + 1)
            pending = data
            continue
        pending = data[end:]
        yield from lines.decoded(data[:end])
    if pending:
        yield from lines.decoded(pending)


class _Counter:
    """Decodes whole lines and counts them, for the line numbers of errors."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.done = 0

    def decoded(self, data: bytes) -> Iterator[str]:
        """The lines of data (whole lines only); InputError after the good ones, if any is bad."""
        good, problem = self._checked(data)
        if self.done == 0:
            good = good.removeprefix(_BYTE_ORDER_MARK)
        for line in io.StringIO(good, newline="\n"):
            self.done += 1
            yield line
        if problem is not None:
            raise problem

    def _checked(self, data: bytes) -> tuple[str, errors.InputError | None]:
        """The text of data's good lines, and the error of the first bad line if any."""
        first_length = data.find(b"\n")
        if first_length < 0:
            first_length = len(data)
        if first_length > LINE_LIMIT and len(data[:first_length].rstrip(b"\r")) > LINE_LIMIT:
            return "", _too_long(self.source, self.done + 1)
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError as error:
            start = data.rfind(b"\n", 0, error.start) + 1
            line = self.done + data.count(b"\n", 0, start) + 1
            return data[:start].decode("utf-8"), _not_utf8(self.source, line)


def _blocks(stream: BinaryIO | TextIO, source: str) -> Iterator[bytes]:
    """The stream's bytes a block at a time.

    A text stream is encoded back to UTF-8 with lone surrogates passed through, so that
    decoding rejects them on their own line, like any other bad byte.
    """
    seen_lines = 0
    while True:
        try:
            block = stream.read(BLOCK_SIZE)
        except UnicodeDecodeError as error:
            raise _not_utf8(source, seen_lines + 1) from error
        except OSError as error:
            raise errors.InputError(f"cannot read {source}: {error.strerror or error}") from error
        if not block:
            return
        if isinstance(block, str):
            block = block.encode("utf-8", "surrogatepass")
        seen_lines += block.count(b"\n")
        yield block


def _too_long(source: str, number: int) -> errors.InputError:
    return errors.InputError(f"line is longer than {LINE_LIMIT} bytes", source=source, line=number)


def _not_utf8(source: str, number: int) -> errors.InputError:
    return errors.InputError("not valid UTF-8 text", source=source, line=number)
