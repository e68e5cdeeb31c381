"""`bulletin audience`: import subscribers from files, list them, count them."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bulletin import errors, models
from bulletin.app import audience
from bulletin.app.database import database
from bulletin.audience.writer import Format
from bulletin.cli.context import Options, run
from bulletin.cli.output import console, error_console, output_file, print_json, print_table

app = typer.Typer(
    help="Import and inspect the people and chats that opted in.", no_args_is_help=True
)


def _tell(told: list[str] | tuple[str, ...]) -> None:
    """The invalid lines of a file, on stderr."""
    for line in told:
        error_console.print(line, markup=False, highlight=False)


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
    resubscribe: Annotated[
        bool,
        typer.Option(
            "--resubscribe",
            help="Subscribe again the listed chats that unsubscribed (each logged as an event); "
            "only when they opted in again elsewhere. Blocked and gone chats stay out.",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Read and merge the file, report what would change, keep nothing"
        ),
    ] = False,
) -> None:
    """Import (merge) subscribers; any invalid line aborts the whole import unless --skip-invalid.

    A chat that unsubscribed, blocked the bot or was forgotten is never subscribed by an
    import (unless --resubscribe, for unsubscribed chats only).
    """
    settings = ctx.ensure_object(Options).settings()
    extra_tags = tuple(sorted({t.strip().lower() for t in tag or [] if t.strip()}))

    async def go() -> audience.Imported:
        async with database(settings) as pool:
            return await audience.import_file(
                pool,
                bot=bot,
                path=file,
                stdin=sys.stdin,
                tags=extra_tags,
                resubscribe=resubscribe,
                skip_invalid=skip_invalid,
                dry_run=dry_run,
            )

    try:
        imported = run(go())
    except errors.InvalidLines as refused:
        _tell(refused.told)
        raise
    _tell(imported.invalid.lines())
    for line in imported.summary(dry_run=dry_run):
        console.print(line, markup=False)


@app.command("stats")
def stats(
    ctx: typer.Context,
    bot: Annotated[str | None, typer.Option(help="Only this bot")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Subscribers by bot and status."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> list[tuple[str, str, int]]:
        async with database(settings) as pool:
            return await audience.counts(pool, bot)

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
        async with database(settings) as pool:
            return await audience.list_page(pool, bot, status, limit)

    rows = run(go())
    if as_json:
        print_json(rows)
        return
    columns = ["chat_id", "chat_type", "status", "first_name", "username", "language_code", "tags"]
    print_table(None, columns, [[row[c] for c in columns] for row in rows])


@app.command("export")
def export(
    ctx: typer.Context,
    bot: Annotated[str, typer.Option(help="The bot whose audience to export")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="File to write; - for stdout")
    ] = "-",
    file_format: Annotated[
        Format | None, typer.Option("--format", help="csv or jsonl (default: by file name)")
    ] = None,
    status: Annotated[models.SubscriberStatus | None, typer.Option(help="Only this status")] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="Only chats with this tag (repeatable: all of them)")
    ] = None,
    any_tag: Annotated[
        list[str] | None, typer.Option(help="Only chats with at least one of these (repeatable)")
    ] = None,
    without_tag: Annotated[
        list[str] | None, typer.Option(help="Only chats with none of these (repeatable)")
    ] = None,
    language: Annotated[
        list[str] | None,
        typer.Option(help="Only these languages (repeatable; 'pt' matches pt-br too)"),
    ] = None,
    chat_type: Annotated[
        list[models.ChatType] | None, typer.Option(help="Only these chat types (repeatable)")
    ] = None,
    subscribed_after: Annotated[
        str | None, typer.Option(help="Only chats that subscribed at or after (ISO 8601; UTC)")
    ] = None,
    subscribed_before: Annotated[
        str | None, typer.Option(help="Only chats that subscribed before (ISO 8601; UTC)")
    ] = None,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="CSV cells exactly as stored: no ' before a leading = + - @ (for programs)",
        ),
    ] = False,
) -> None:
    """Write subscribers as CSV or JSON Lines, in the shape `audience import` reads back.

    The filters mean what they mean in a campaign's segment, so an export shows who a
    segment selects (add --status subscribed: a campaign only messages subscribed chats).
    """
    settings = ctx.ensure_object(Options).settings()
    chosen_format = file_format or Format.of_path(output)
    segment = audience.segment_of(
        all_tags=tag or (),
        any_tags=any_tag or (),
        without_tags=without_tag or (),
        languages=language or (),
        chat_types=chat_type or (),
        subscribed_after=("--subscribed-after", subscribed_after),
        subscribed_before=("--subscribed-before", subscribed_before),
    )

    async def go() -> int:
        async with database(settings) as pool:
            return await audience.export(
                pool, bot, status, segment, chosen_format, lambda: output_file(output), raw=raw
            )

    written = run(go())
    where = "" if output == "-" else f" to {output}"
    error_console.print(f"exported {written:,} subscribers{where}", markup=False)


ChatIds = Annotated[
    list[int] | None,
    typer.Argument(help="Chat ids; put -- before the first if it is negative (a group)"),
]
FileOption = Annotated[
    str | None, typer.Option("--file", help="Also the chat ids of an audience file (any format)")
]


@app.command("tag")
def tag_chats(
    ctx: typer.Context,
    tag: Annotated[str, typer.Argument(help="Tag to add (or several, comma-separated)")],
    chat_ids: ChatIds = None,
    bot: Annotated[str, typer.Option(help="The bot whose subscribers to tag")] = "",
    file: FileOption = None,
) -> None:
    """Add a tag to subscribers: `bulletin audience tag vip --bot news 1001 1002`."""
    _retag(ctx, bot, tag, chat_ids, file, add=True)


@app.command("untag")
def untag_chats(
    ctx: typer.Context,
    tag: Annotated[str, typer.Argument(help="Tag to remove (or several, comma-separated)")],
    chat_ids: ChatIds = None,
    bot: Annotated[str, typer.Option(help="The bot whose subscribers to untag")] = "",
    file: FileOption = None,
) -> None:
    """Remove a tag from subscribers."""
    _retag(ctx, bot, tag, chat_ids, file, add=False)


def _retag(
    ctx: typer.Context, bot: str, tag: str, chat_ids: list[int] | None, file: str | None, add: bool
) -> None:
    settings = ctx.ensure_object(Options).settings()
    tags = sorted({part.strip().lower() for part in tag.split(",") if part.strip()})
    wanted = set(chat_ids or []) | (_file_chat_ids(file) if file else set())
    if not bot or not tags or not wanted:
        raise errors.InputError("give --bot, a tag and at least one chat id (or --file)")

    async def go() -> set[int]:
        async with database(settings) as pool:
            return await audience.retag(pool, bot, wanted, tags, add=add)

    found_ids = run(go())
    verb = "tagged" if add else "untagged"
    console.print(f"{verb} {len(found_ids):,} subscribers ({', '.join(tags)})")
    missing = len(wanted - found_ids)
    if missing:
        error_console.print(f"{missing:,} chat ids are not subscribers of {bot}", markup=False)


def _file_chat_ids(path: str) -> set[int]:
    try:
        return audience.chat_ids_of(path, sys.stdin)
    except errors.InvalidLines as refused:
        _tell(refused.told)
        raise


@app.command("forget")
def forget(
    ctx: typer.Context,
    chat_id: Annotated[int, typer.Argument(help="The chat to forget (-- before a negative id)")],
    bot: Annotated[
        str | None, typer.Option(help="Only for this bot (default: every bot that knows it)")
    ] = None,
) -> None:
    """Erase a chat's personal data; a hashed tombstone keeps imports from bringing it back.

    The chat's row, its deliveries and the chat id in its events are deleted. If the
    person sends /start again (or an admin adds the bot to the group again), they are a
    new subscriber, without the old data.
    """
    settings = ctx.ensure_object(Options).settings()

    async def go() -> list[audience.Forgotten]:
        async with database(settings) as pool:
            return await audience.forget(pool, chat_id, bot)

    forgotten = run(go())
    known = sum(1 for item in forgotten if item.was_known)
    console.print(
        f"forgot chat {chat_id}: personal data erased for {known} bot(s); "
        f"tombstones keep it from being imported again for {len(forgotten)} bot(s)"
    )
