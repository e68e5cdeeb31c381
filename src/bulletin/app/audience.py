"""The audience: imports that never subscribe an opted-out chat, exports, tags, forgetting."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

from bulletin import errors, models
from bulletin.audience.reader import AudienceRecord, LineError, read_audience
from bulletin.audience.writer import Format, Writer
from bulletin.campaign.spec import Segment
from bulletin.db import audience as audience_rows
from bulletin.db import bots as bot_rows
from bulletin.db import subscribers
from bulletin.db.pool import Pool

ERRORS_SHOWN = 20

MergeResult = subscribers.MergeResult
Forgotten = audience_rows.Forgotten


class LineErrors:
    """Counts the bad lines met while a file streams into the database, and keeps the
    first few to show (a file of a million bad lines must not fill memory)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.shown: list[LineError] = []
        self.count = 0

    def records(self, items: Iterator[AudienceRecord | LineError]) -> Iterator[AudienceRecord]:
        for item in items:
            if isinstance(item, LineError):
                self.count += 1
                if len(self.shown) < ERRORS_SHOWN:
                    self.shown.append(item)
            else:
                yield item

    def lines(self) -> list[str]:
        """What to tell about the bad lines, one per line: the first few, then how many more."""
        told = [f"{self.source}:{item.line}: {item.reason}" for item in self.shown]
        if self.count > len(self.shown):
            told.append(f"… and {self.count - len(self.shown)} more invalid lines")
        return told


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did, or would have done on a dry run."""

    result: MergeResult
    custom_fields: tuple[str, ...]
    invalid: LineErrors  # with --skip-invalid: the lines left out


def source_name(path: str) -> str:
    return "<stdin>" if path == "-" else path


async def import_file(
    pool: Pool,
    *,
    bot: str,
    path: str,
    stdin: TextIO,
    tags: tuple[str, ...],
    resubscribe: bool,
    skip_invalid: bool,
    dry_run: bool,
) -> Imported:
    """Merge a file's subscribers in one transaction: all of it or, for an invalid line
    (InvalidLines, unless skip_invalid) or a dry run, none of it."""
    async with pool.acquire() as connection:
        found = await bot_rows.find(connection, bot)
        items = read_audience(path, stdin=stdin)
        bad = LineErrors(source_name(path))
        transaction = connection.transaction()
        await transaction.start()
        try:
            result = await subscribers.import_staged(
                connection, found.id, bad.records(items), tags=tags, resubscribe=resubscribe
            )
        except BaseException:
            await transaction.rollback()
            raise
        if bad.count and not skip_invalid:
            await transaction.rollback()
            raise errors.InvalidLines(
                f"{bad.count} invalid line(s); nothing imported (fix them or pass --skip-invalid)",
                bad.lines(),
                source=bad.source,
            )
        if dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
    return Imported(result, items.custom_fields, bad)


async def counts(pool: Pool, bot: str | None) -> list[tuple[str, str, int]]:
    """(bot name, status, subscribers) for one bot or all."""
    async with pool.acquire() as connection:
        bot_id = (await bot_rows.find(connection, bot)).id if bot else None
        return await subscribers.counts(connection, bot_id)


async def list_page(
    pool: Pool, bot: str, status: models.SubscriberStatus | None, limit: int
) -> list[dict[str, object]]:
    """Subscribers of a bot, oldest first."""
    async with pool.acquire() as connection:
        found = await bot_rows.find(connection, bot)
        return await subscribers.list_page(connection, found.id, status, limit)


async def export(
    pool: Pool,
    bot: str,
    status: models.SubscriberStatus | None,
    segment: Segment,
    file_format: Format,
    output: Callable[[], contextlib.AbstractContextManager[TextIO]],
    *,
    raw: bool = False,
) -> int:
    """Stream the selected subscribers to the stream `output` opens, once the bot is known;
    how many were written."""
    async with pool.acquire() as connection:
        found = await bot_rows.find(connection, bot)
        selection = audience_rows.Filter(found.id, status, segment)
        names = await audience_rows.field_names(connection, selection)
        with output() as stream:
            writer = Writer(stream, file_format, names, raw=raw)
            async with connection.transaction():
                async for record in audience_rows.export(connection, selection):
                    writer.write(record)
        return writer.written


def chat_ids_of(path: str, stdin: TextIO) -> set[int]:
    """Every chat id in an audience file (any format); InvalidLines if it has a bad line."""
    bad = LineErrors(source_name(path))
    ids = {record.chat_id for record in bad.records(read_audience(path, stdin=stdin))}
    if bad.count:
        raise errors.InvalidLines(
            f"{bad.count} invalid line(s); nothing changed", bad.lines(), source=path
        )
    return ids


async def retag(
    pool: Pool, bot: str, chat_ids: set[int], tags: list[str], *, add: bool
) -> set[int]:
    """Add (or remove) tags of a bot's chats; the chat ids that are its subscribers."""
    async with pool.acquire() as connection:
        found = await bot_rows.find(connection, bot)
        change = audience_rows.tag if add else audience_rows.untag
        return await change(connection, found.id, sorted(chat_ids), tags)


async def forget(pool: Pool, chat_id: int, bot: str | None) -> list[Forgotten]:
    """Erase a chat's personal data for one bot or every bot that knows it; NotFound if none."""
    async with pool.acquire() as connection:
        bot_id = (await bot_rows.find(connection, bot)).id if bot else None
        async with connection.transaction():
            forgotten = await audience_rows.forget(connection, bot_id, chat_id)
    if not forgotten:
        raise errors.NotFound(f"no bot has chat {chat_id} as a subscriber; nothing to forget")
    return forgotten
