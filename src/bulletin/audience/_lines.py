"""Physical lines of an input stream, checked for size and UTF-8 one at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, TextIO

from bulletin import errors

LINE_LIMIT = 1_048_576
"""The longest line accepted, in bytes, not counting its line ending."""

Line = tuple[int, str]
"""A 1-based physical line number and the line's text, line ending included."""

_BYTE_ORDER_MARK = "\ufeff"
_UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


def read_lines(stream: BinaryIO | TextIO, source: str) -> Iterator[Line]:
    """Yield each physical line of a stream; raise InputError for bad text."""
    number = 0
    while True:
        chunk = _read_chunk(stream, source, number + 1)
        if not chunk:
            return
        number += 1
        text = _decode(chunk, source, number)
        if number == 1:
            text = text.removeprefix(_BYTE_ORDER_MARK)
        yield number, text


def _read_chunk(stream: BinaryIO | TextIO, source: str, number: int) -> bytes | str:
    try:
        return stream.readline(LINE_LIMIT + 2)
    except UnicodeDecodeError as error:
        raise _not_utf8(source, number) from error
    except OSError as error:
        raise errors.InputError(f"cannot read {source}: {error.strerror or error}") from error


def _decode(chunk: bytes | str, source: str, number: int) -> str:
    if isinstance(chunk, str):
        return _check_text(chunk, source, number)
    if len(chunk.rstrip(b"\r\n")) > LINE_LIMIT:
        raise _too_long(source, number)
    if number == 1 and chunk.startswith(_UTF16_MARKS):
        raise errors.InputError("file is UTF-16 text; save it as UTF-8", source=source, line=1)
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _not_utf8(source, number) from error


def _check_text(chunk: str, source: str, number: int) -> str:
    try:
        size = len(chunk.rstrip("\r\n").encode("utf-8"))
    except UnicodeEncodeError as error:
        raise _not_utf8(source, number) from error
    if size > LINE_LIMIT:
        raise _too_long(source, number)
    return chunk


def _too_long(source: str, number: int) -> errors.InputError:
    return errors.InputError(f"line is longer than {LINE_LIMIT} bytes", source=source, line=number)


def _not_utf8(source: str, number: int) -> errors.InputError:
    return errors.InputError("not valid UTF-8 text", source=source, line=number)
