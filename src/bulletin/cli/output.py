"""Printing for the CLI: Rich tables for people, JSON for scripts, errors on stderr."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()
error_console = Console(stderr=True)


def print_json(value: Any) -> None:
    """JSON on stdout, plain (no Rich markup), one document."""
    print(json.dumps(value, default=_json_default, indent=2))


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(shown_as_text(_cell(value)) for value in row))
    console.print(table)


def print_mapping(title: str, values: Mapping[str, Any]) -> None:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    for key, value in values.items():
        table.add_row(key, shown_as_text(_cell(value)))
    console.print(table)


# C0 but newline, DEL, C1 (ESC, CSI …) and bidirectional overrides: a subscriber's name
# must not clear the screen, move the cursor, or reorder what the table shows.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def shown_as_text(cell: str) -> Text:
    """cell as literal text: never Rich markup, control characters shown as escapes."""
    return Text(_CONTROL.sub(lambda found: ascii(found.group())[1:-1], cell))


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
