"""Printing for the CLI: Rich tables for people, JSON for scripts, errors on stderr."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import typer.core
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bulletin import errors

# Wide enough that no line of a table is ever folded; nothing here fills the width.
UNWRAPPED_WIDTH = 10_000


def _console(stream: TextIO, *, stderr: bool = False) -> Console:
    """A terminal gets Rich's wrapping; a pipe or a file gets whole lines (URLs, commands)."""
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=UNWRAPPED_WIDTH, soft_wrap=True)


console = _console(sys.stdout)
error_console = _console(sys.stderr, stderr=True)


def command_name() -> str:
    """How to type this command again: `bulletin` if that is on PATH, else as it was invoked."""
    invoked = sys.argv[0]
    found = shutil.which("bulletin")
    if "/" not in invoked or (
        found is not None and Path(found).resolve() == Path(invoked).resolve()
    ):
        return "bulletin"
    return invoked


def print_json(value: Any) -> None:
    """JSON on stdout, plain (no Rich markup), one document."""
    print(json.dumps(value, default=_json_default, indent=2))


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    ids = [is_id(column) for column in columns]
    for row in rows:
        table.add_row(
            *(
                shown_as_text(_cell(value, id_column))
                for value, id_column in zip(row, ids, strict=False)
            )
        )
    console.print(table)


def print_mapping(title: str, values: Mapping[str, Any]) -> None:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    for key, value in values.items():
        table.add_row(key, shown_as_text(_cell(value, is_id(key))))
    console.print(table)


def is_id(name: str) -> bool:
    """Whether a column holds ids (bot, chat, run), printed bare so they can be pasted back."""
    words = name.lower().replace("_", " ").split()
    return bool(words) and words[-1] in {"id", "chat", "run"}


# C0 but newline, DEL, C1 (ESC, CSI …) and bidirectional overrides: a subscriber's name
# must not clear the screen, move the cursor, or reorder what the table shows.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def shown_as_text(cell: str) -> Text:
    """cell as literal text: never Rich markup, control characters shown as escapes."""
    return Text(_CONTROL.sub(lambda found: ascii(found.group())[1:-1], cell))


def _cell(value: Any, id_column: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if id_column else f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _flag_type(option: typer.core.TyperOption, ctx: Any) -> str | None:
    """No `<bool>` or `<int>` after a flag or a counted option: they take no value."""
    if option.is_flag or option.count:
        return None
    return _option_type(option, ctx)


# Typer's Rich help asks every option for its type, flags included; answer for flags here.
_option_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign,assignment]


def announce(line: str) -> None:
    """A line about what a long-running command is doing, on stderr, as it is."""
    error_console.print(line, markup=False)


@contextlib.contextmanager
def output_file(path: str) -> Iterator[TextIO]:
    """The file an export or report writes (`-`: stdout), removed again when writing fails
    half-way, so no half-written file is left that looks whole."""
    if path == "-":
        yield sys.stdout
        return
    try:
        stream = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as error:
        raise errors.InputError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with stream:
            yield stream
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
