"""`bulletin audience`: import subscribers from files, list them, count them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Annotated

import typer

from bulletin import errors, models
from bulletin.audience.reader import AudienceRecord, LineError, read_audience
from bulletin.cli.context import Options, database, run
from bulletin.cli.output import console, error_console, print_json, print_table
from bulletin.db import bots as bot_rows
from bulletin.db import subscribers

app = typer.Typer(
    help="Import and inspect the people and chats that opted in.", no_args_is_help=True
)

ERRORS_SHOWN = 20


class LineErrors:
    """Collects the bad lines met while a file streams into the database."""

    def __init__(self) -> None:
        self.items: list[LineError] = []

    def records(self, items: Iterator[AudienceRecord | LineError]) -> Iterator[AudienceRecord]:
        for item in items:
            if isinstance(item, LineError):
                self.items.append(item)
            else:
                yield item

    def report(self, source: str) -> None:
        for item in self.items[:ERRORS_SHOWN]:
            error_console.print(
                f"{source}:{item.line}: {item.reason}", markup=False, highlight=False
            )
        if len(self.items) > ERRORS_SHOWN:
            error_console.print(f"… and {len(self.items) - ERRORS_SHOWN} more invalid lines")


@app.command("import")
def import_file(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="CSV, JSONL or one chat id per line; - for stdin")],
    bot: Annotated[str, typer.Option(help="The bot these chats opted in to")],
    tag: Annotated[
        list[str] | None, typer.Option(help="Tag every imported chat (repeatable)")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid lines, report the rest")
    ] = False,
) -> None:
    """Import (merge) subscribers; any invalid line aborts the whole import unless --skip-invalid."""
    settings = ctx.ensure_object(Options).settings()
    source = "<stdin>" if file == "-" else file
    extra_tags = tuple(sorted({t.strip().lower() for t in tag or [] if t.strip()}))

    async def go() -> subscribers.MergeResult:
        async with database(settings) as pool, pool.acquire() as connection:
            found = await bot_rows.find(connection, bot)
            items = read_audience(file, stdin=sys.stdin)
            bad = LineErrors()
            async with connection.transaction():
                result = await subscribers.import_staged(
                    connection, found.id, bad.records(items), tags=extra_tags
                )
                if bad.items:
                    bad.report(source)
                    if not skip_invalid:
                        raise errors.InputError(
                            f"{len(bad.items)} invalid line(s); nothing imported "
                            "(fix them or pass --skip-invalid)",
                            source=source,
                        )
            return result

    result = run(go())
    console.print(
        f"imported {result.inserted:,} new and merged {result.updated:,} known subscribers"
    )


@app.command("stats")
def stats(
    ctx: typer.Context,
    bot: Annotated[str | None, typer.Option(help="Only this bot")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Subscribers by bot and status."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> list[tuple[str, str, int]]:
        async with database(settings) as pool, pool.acquire() as connection:
            bot_id = (await bot_rows.find(connection, bot)).id if bot else None
            return await subscribers.counts(connection, bot_id)

    counts = run(go())
    if as_json:
        print_json([{"bot": b, "status": s, "subscribers": n} for b, s, n in counts])
        return
    print_table("audience", ["bot", "status", "subscribers"], counts)


@app.command("list")
def list_subscribers(
    ctx: typer.Context,
    bot: Annotated[str, typer.Option(help="The bot whose audience to list")],
    status: Annotated[models.SubscriberStatus | None, typer.Option(help="Only this status")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Subscribers of a bot, oldest first."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> list[dict[str, object]]:
        async with database(settings) as pool, pool.acquire() as connection:
            found = await bot_rows.find(connection, bot)
            return await subscribers.list_page(connection, found.id, status, limit)

    rows = run(go())
    if as_json:
        print_json(rows)
        return
    columns = ["chat_id", "chat_type", "status", "first_name", "username", "language_code", "tags"]
    print_table(None, columns, [[row[c] for c in columns] for row in rows])
