"""`campaign report`: who got a run's message, who did not and why, one row per delivery."""

from __future__ import annotations

from typing import Annotated

import typer

from bulletin import models
from bulletin.app import reports
from bulletin.app.database import database
from bulletin.audience.writer import Format
from bulletin.cli.context import Options, run
from bulletin.cli.output import error_console, output_file


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name")],
    number: Annotated[
        int | None,
        typer.Option("--run", help="The run's number in `campaign runs` (default: the latest)"),
    ] = None,
    outcome: Annotated[
        reports.Outcome | None, typer.Option("--outcome", help="Only deliveries with this outcome")
    ] = None,
    output: Annotated[
        str, typer.Option("--output", "-o", help="File to write (.csv or .jsonl); - for stdout")
    ] = "-",
    file_format: Annotated[
        Format | None, typer.Option("--format", help="csv or jsonl (default: by file name)")
    ] = None,
) -> None:
    """One row per delivery: chat, outcome, Telegram's description, attempts, time (UTC)."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> tuple[models.Run, int]:
        async with database(settings) as pool:
            with output_file(output) as stream:
                writer = reports.ReportWriter(stream, file_format or Format.of_path(output))
                found = await reports.write(pool, name, writer, number=number, outcome=outcome)
            return found, writer.written

    found, written = run(go())
    where = "" if output == "-" else f" to {output}"
    error_console.print(f"wrote {written:,} deliveries of {found.label}{where}", markup=False)
