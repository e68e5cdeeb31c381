"""Subscribers written as CSV or JSON Lines, in the shape `audience import` reads back."""

from __future__ import annotations

import csv
import enum
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from bulletin.audience.reader import READ_ONLY_COLUMNS


class Format(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"

    @classmethod
    def of_path(cls, path: str) -> Format:
        """JSON Lines for .jsonl/.ndjson/.json files, else CSV."""
        return cls.JSONL if path.lower().endswith((".jsonl", ".ndjson", ".json")) else cls.CSV


# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(…), =cmd|…):
# names and titles come from Telegram users, so such cells get a leading ' unless raw.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")  # -100123 (a group's id) is a number, not a formula

COLUMNS = ("chat_id", "first_name", "username", "language_code", "tags", *READ_ONLY_COLUMNS)
TAG_SEPARATOR = ";"


class Writer:
    """Writes one subscriber record at a time to a text stream."""

    def __init__(
        self,
        stream: TextIO,
        file_format: Format,
        field_names: Sequence[str],
        *,
        raw: bool = False,
    ) -> None:
        self.format = file_format
        self.raw = raw
        self.stream = stream
        self.field_names = [name for name in field_names if name not in COLUMNS]
        self.written = 0
        self._csv = csv.writer(stream, lineterminator="\n")
        # Python 3.11's writer leaves a lone \r unquoted (the terminator is \n alone), and a
        # reader then ends the row there: rows with one are written fully quoted.
        self._quoted = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)
        if file_format is Format.CSV:
            self._csv.writerow([*COLUMNS, *self.field_names])

    def write(self, record: Mapping[str, Any]) -> None:
        if self.format is Format.CSV:
            cells = self._csv_row(record)
            writer = self._quoted if any("\r" in cell for cell in cells) else self._csv
            writer.writerow(cells)
        else:
            self.stream.write(json.dumps(self._json_object(record), ensure_ascii=False) + "\n")
        self.written += 1

    def _csv_row(self, record: Mapping[str, Any]) -> list[str]:
        fields: Mapping[str, Any] = record.get("fields") or {}
        standard = [_text(column, record.get(column)) for column in COLUMNS]
        cells = standard + [_text(name, fields.get(name)) for name in self.field_names]
        return cells if self.raw else [spreadsheet_safe(cell) for cell in cells]

    def _json_object(self, record: Mapping[str, Any]) -> dict[str, Any]:
        # Custom fields first: a standard key always wins over a field of the same name.
        document: dict[str, Any] = dict(record.get("fields") or {})
        for column in COLUMNS:
            value = record.get(column)
            document[column] = value.isoformat() if isinstance(value, datetime) else value
        document["tags"] = list(record.get("tags") or [])
        return document


def _text(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column == "tags":
        return TAG_SEPARATOR.join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def spreadsheet_safe(cell: str) -> str:
    """cell with a leading ' when a spreadsheet would take it for a formula."""
    if cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
