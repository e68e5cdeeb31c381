"""Stream the records of an audience file: CSV, JSON Lines or one chat id per line."""

from __future__ import annotations

import _csv
import contextlib
import csv
import difflib
import itertools
import json
import os
import sys
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, NamedTuple, TextIO, cast

from bulletin import errors
from bulletin.audience._lines import read_lines
from bulletin.audience._values import (
    ValueProblem,
    check_storable,
    clean_language_code,
    clean_text,
    clean_username,
    is_integer,
    normalize_tags,
    parse_chat_id,
    quote,
    split_tags,
)

__all__ = [
    "AudienceItems", "AudienceRecord", "LineError", "read_audience", "read_stream", "suggest_column",
]  # fmt: skip

STDIN_PATH = "-"
"""The path that means standard input."""

STDIN_NAME = "<stdin>"
"""How standard input is named in messages."""

Format = Literal["csv", "jsonl", "ids"]

_EXTENSION_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_KNOWN_COLUMNS = ("chat_id", "first_name", "username", "language_code", "tags")
# What `audience export` writes besides the known columns. Read-only: an import ignores
# them, so an exported file imports back unchanged and no file can set a chat's status.
READ_ONLY_COLUMNS = (
    "chat_type", "status", "source", "title", "can_post", "flagged", "created_at", "updated_at",
)  # fmt: skip
_HEADER_NAMES_SHOWN = 10
# Column names people write for a known column, beyond the near-misses difflib finds.
_COLUMN_ALIASES = {
    "lang": "language_code", "locale": "language_code", "id": "chat_id", "user_id": "chat_id",
    "name": "first_name", "firstname": "first_name", "user": "username", "label": "tags",
}  # fmt: skip


class AudienceRecord(NamedTuple):
    """One subscriber read from an audience file (a tuple: a million are made per import)."""

    line: int
    chat_id: int
    first_name: str | None
    username: str | None
    language_code: str | None
    tags: tuple[str, ...]
    fields: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class LineError:
    """A line of an audience file that could not be read, and why."""

    line: int
    reason: str


Item = AudienceRecord | LineError

Line = tuple[int, str]
"""A 1-based physical line number and the line's text, line ending included."""

_Started = tuple[Iterator[Item], tuple[str, ...]]
"""A reader's items, and the names of the columns it keeps as custom fields."""


@dataclass(frozen=True, slots=True)
class _Ready:
    """Marks that a reader has opened its file and checked its start."""

    custom_fields: tuple[str, ...]


class AudienceItems(Iterator[Item]):
    """The items of an audience file, and which of its CSV columns are kept as custom fields."""

    def __init__(self, items: Generator[Item | _Ready], custom_fields: tuple[str, ...]) -> None:
        self._items = cast(Generator[Item], items)
        self.custom_fields = custom_fields

    def __next__(self) -> Item:
        return next(self._items)

    def close(self) -> None:
        """Close the file now, before the items run out."""
        self._items.close()


def read_audience(path: str, *, stdin: TextIO | None = None) -> AudienceItems:
    """Stream the records of an audience file ('-' is stdin); raise InputError for bad files."""
    return _started(_read(path, stdin))


def read_stream(stream: BinaryIO, source: str, file_format: Format | None = None) -> AudienceItems:
    """Stream the records of an audience file already open (an upload), named `source` in
    messages; its format sniffed from its first line unless given."""
    return _started(_read_lines(stream, source, file_format))


def _started(items: Generator[Item | _Ready]) -> AudienceItems:
    ready = next(items)  # opens the file, detects its format and checks a CSV header now
    assert isinstance(ready, _Ready)
    return AudienceItems(items, ready.custom_fields)


def suggest_column(name: str) -> str | None:
    """The known column a custom column's name looks like a misspelling of, if any."""
    lowered = name.strip().lower().replace("-", "_").replace(" ", "_")
    if lowered in _COLUMN_ALIASES:
        return _COLUMN_ALIASES[lowered]
    close = difflib.get_close_matches(lowered, _KNOWN_COLUMNS, n=1, cutoff=0.7)
    return close[0] if close else None


def _read(path: str, stdin: TextIO | None) -> Generator[Item | _Ready]:
    source = STDIN_NAME if path == STDIN_PATH else path
    with _open(path, stdin) as stream:
        yield from _read_lines(stream, source, _EXTENSION_FORMATS.get(_extension(path)))


def _read_lines(
    stream: BinaryIO | TextIO, source: str, file_format: Format | None
) -> Generator[Item | _Ready]:
    lines = read_lines(stream, source)
    first = _first_content_line(lines)
    if first is None:
        raise errors.InputError("file is empty", source=source)
    items, custom_fields = _START[file_format or _sniff(first[1])](first, lines, source)
    yield _Ready(custom_fields)
    yield from items


@contextlib.contextmanager
def _open(path: str, stdin: TextIO | None) -> Iterator[BinaryIO | TextIO]:
    if path == STDIN_PATH:
        yield _binary_if_possible(stdin if stdin is not None else sys.stdin)
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below, after the generator is done
    except OSError as error:
        raise errors.InputError(f"cannot read {path}: {error.strerror or error}") from error
    with stream:
        yield stream


def _binary_if_possible(stream: TextIO) -> BinaryIO | TextIO:
    buffer = getattr(stream, "buffer", None)
    if hasattr(buffer, "readline"):
        return cast(BinaryIO, buffer)
    return stream


def _first_content_line(lines: Iterator[str]) -> Line | None:
    for number, text in enumerate(lines, start=1):
        if text.strip():
            return number, text
    return None


def _numbered(first: Line, lines: Iterator[str]) -> Iterator[Line]:
    """The first content line and the lines after it, with their line numbers."""
    return enumerate(itertools.chain([first[1]], lines), start=first[0])


def _extension(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def _sniff(text: str) -> Format:
    stripped = text.strip()
    if stripped.startswith("{"):
        return "jsonl"
    if stripped.startswith("#") or is_integer(stripped):
        return "ids"
    return "csv"


# Plain chat ids, one per line.


def _start_ids(first: Line, lines: Iterator[str], source: str) -> _Started:
    return _id_items(_numbered(first, lines)), ()


def _id_items(lines: Iterator[Line]) -> Iterator[Item]:
    for number, text in lines:
        stripped = text.strip()
        if stripped and not stripped.startswith("#"):
            yield _id_item(number, stripped)


def _id_item(number: int, text: str) -> Item:
    try:
        chat_id = parse_chat_id(text)
    except ValueProblem as problem:
        return LineError(number, str(problem))
    return AudienceRecord(number, chat_id, None, None, None, (), {})


# JSON Lines.


def _start_jsonl(first: Line, lines: Iterator[str], source: str) -> _Started:
    if first[1].lstrip().startswith("["):
        message = "a JSON array is not supported; write one JSON object per line"
        raise errors.InputError(message, source=source, line=first[0])
    return _json_items(_numbered(first, lines)), ()


def _json_items(lines: Iterator[Line]) -> Iterator[Item]:
    for number, text in lines:
        if text.strip():
            yield _json_item(number, text)


def _json_item(number: int, text: str) -> Item:
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        return LineError(number, f"not valid JSON: {error.msg} at column {error.colno}")
    except (ValueError, RecursionError) as error:
        return LineError(number, f"not valid JSON: {_first_line(error)}")
    if not isinstance(data, dict):
        return LineError(number, f"JSON value is not an object (got {_json_type(data)})")
    try:
        return _json_record(number, data)
    except ValueProblem as problem:
        return LineError(number, str(problem))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _first_line(error: BaseException) -> str:
    lines = str(error).splitlines()
    return lines[0] if lines else type(error).__name__


def _json_record(number: int, data: dict[str, Any]) -> AudienceRecord:
    return AudienceRecord(
        line=number,
        chat_id=parse_chat_id(_json_chat_id(data.get("chat_id"))),
        first_name=clean_text("first_name", _json_string(data, "first_name")),
        username=clean_username(_json_string(data, "username")),
        language_code=clean_language_code(_json_string(data, "language_code")),
        tags=_json_tags(data.get("tags")),
        fields=_json_fields(data),
    )


def _json_chat_id(value: object) -> str | int | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        raise ValueProblem(f"chat_id {value!r} is not an integer")
    raise ValueProblem(f"chat_id must be an integer, got {_json_type(value)}")


def _json_string(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueProblem(f"{key} must be a string, got {_json_type(value)}")


def _json_tags(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return split_tags(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return normalize_tags(value)
    raise ValueProblem("tags must be a string or a list of strings")


def _json_fields(data: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in data.items():
        if key not in _KNOWN_COLUMNS and key not in READ_ONLY_COLUMNS:
            check_storable(f"field name {quote(key)}", key)
            text = clean_text(f"field {quote(key)}", _json_field_text(key, value))
            if text is not None:
                fields[key] = text
    return fields


def _json_field_text(key: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    message = f"field {quote(key)} must be a string, number or boolean, got {_json_type(value)}"
    raise ValueProblem(message)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


# CSV with a header.


@dataclass(frozen=True, slots=True)
class _Header:
    """The columns of a CSV file: where each known column is, and the custom ones."""

    size: int
    known: dict[str, int]
    custom: list[tuple[str, int]]


def _start_csv(first: Line, lines: Iterator[str], source: str) -> _Started:
    rows = csv.reader(itertools.chain([first[1]], lines), strict=False)
    try:
        names = next(rows)
    except csv.Error as error:
        message = f"CSV header cannot be read: {error}"
        raise errors.InputError(message, source=source, line=first[0]) from error
    header = _parse_header(names, source, first[0])
    # rows.line_num counts the lines the csv module has read, the first content line being 1.
    custom_fields = tuple(name for name, _ in header.custom)
    return _csv_items(rows, first[0] - 1, header), custom_fields


def _parse_header(names: list[str], source: str, number: int) -> _Header:
    known: dict[str, int] = {}
    custom: list[tuple[str, int]] = []
    seen: set[str] = set()
    for index, raw_name in enumerate(names):
        name = _column_key(raw_name.strip())
        problem = _header_name_problem(name, index, seen)
        if problem:
            raise errors.InputError(problem, source=source, line=number)
        seen.add(name)
        if name in _KNOWN_COLUMNS:
            known[name] = index
        elif name not in READ_ONLY_COLUMNS:
            custom.append((name, index))
    if "chat_id" not in known:
        message = f"CSV header has no chat_id column (found: {_listed(names)})"
        raise errors.InputError(message, source=source, line=number)
    return _Header(len(names), known, custom)


def _column_key(name: str) -> str:
    lowered = name.lower()
    return lowered if lowered in _KNOWN_COLUMNS or lowered in READ_ONLY_COLUMNS else name


def _header_name_problem(name: str, index: int, seen: set[str]) -> str | None:
    if not name:
        return f"CSV header column {index + 1} has no name"
    if name in seen:
        return f"CSV header has column {quote(name)} more than once"
    return None


def _listed(names: list[str]) -> str:
    shown = [name.strip() for name in names[:_HEADER_NAMES_SHOWN]]
    more = ", …" if len(names) > _HEADER_NAMES_SHOWN else ""
    return ", ".join(shown) + more


def _csv_items(rows: _csv.Reader, skipped: int, header: _Header) -> Iterator[Item]:
    """Items of the CSV rows; a row's line is the physical line it starts on (`skipped`
    blank lines came before the header, and rows.line_num counts from the header on)."""
    record = _csv_record_maker(header)
    start = skipped + rows.line_num + 1
    while True:
        try:
            for row in rows:
                number, start = start, skipped + rows.line_num + 1
                if len(row) == header.size and (header.size > 1 or row[0].strip()):
                    yield _csv_item(record, number, row)
                elif not _is_blank(row):
                    yield LineError(number, f"row has {len(row)} fields, header has {header.size}")
            return
        except csv.Error as error:
            yield LineError(start, f"CSV row cannot be read: {error}")
            start = skipped + rows.line_num + 1


def _is_blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def _csv_item(
    record: Callable[[int, list[str]], AudienceRecord], number: int, row: list[str]
) -> Item:
    try:
        return record(number, row)
    except ValueProblem as problem:
        return LineError(number, str(problem))


def _csv_record_maker(header: _Header) -> Callable[[int, list[str]], AudienceRecord]:
    """A function from (line, row) to a record, with the header's column positions bound."""
    chat_id_at = header.known["chat_id"]
    first_name_at = header.known.get("first_name")
    username_at = header.known.get("username")
    language_code_at = header.known.get("language_code")
    tags_at = header.known.get("tags")
    custom = [(name, index, f"field {quote(name)}") for name, index in header.custom]

    def record(number: int, row: list[str]) -> AudienceRecord:
        fields: dict[str, str] = {}
        for name, index, label in custom:
            text = clean_text(label, row[index])
            if text is not None:
                fields[name] = text
        return AudienceRecord(
            number,
            parse_chat_id(row[chat_id_at]),
            None if first_name_at is None else clean_text("first_name", row[first_name_at]),
            None if username_at is None else clean_username(row[username_at]),
            None if language_code_at is None else clean_language_code(row[language_code_at]),
            () if tags_at is None else split_tags(row[tags_at]),
            fields,
        )

    return record


_START: dict[Format, Callable[[Line, Iterator[str], str], _Started]] = {
    "csv": _start_csv,
    "jsonl": _start_jsonl,
    "ids": _start_ids,
}
