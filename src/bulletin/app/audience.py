"""The audience: imports that never subscribe an opted-out chat, exports, tags, forgetting."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from bulletin import errors, models
from bulletin.audience.reader import (
    AudienceRecord,
    LineError,
    read_audience,
    suggest_column,
)
from bulletin.audience.writer import Format, Writer
from bulletin.campaign.spec import Segment, TagFilter
from bulletin.db import audience as audience_rows
from bulletin.db import bots as bot_rows
from bulletin.db import subscribers
from bulletin.db.connection import Connection
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

    def records(self, items: Iterable[AudienceRecord | LineError]) -> Iterator[AudienceRecord]:
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
    opted_out: int | None = None  # listed chats that stay opted out, when counted

    def summary(self, *, dry_run: bool) -> list[str]:
        """What `audience import` says it did, one line each."""
        result = self.result
        would = "would have " if dry_run else ""
        told = [
            f"{would}imported {result.inserted:,} new and merged {result.known:,} known "
            f"subscribers ({result.updated:,} changed)"
        ]
        if result.resubscribed:
            told.append(f"{would}re-subscribed {result.resubscribed:,} chats that had unsubscribed")
        if result.forgotten:
            told.append(f"{would}left out {result.forgotten:,} forgotten chats")
        if self.opted_out:
            told.append(f"{self.opted_out:,} known chats opted out and stay so")
        if self.custom_fields:
            told.append(f"columns kept as custom fields: {custom_field_names(self.custom_fields)}")
        if dry_run:
            told.append("dry run: nothing was kept")
        return told


def custom_field_names(names: tuple[str, ...]) -> str:
    """The custom columns, each near-miss of a known column with the name it likely meant."""
    shown = []
    for name in names:
        meant = suggest_column(name)
        shown.append(f"{name} (did you mean {meant}?)" if meant else name)
    return ", ".join(shown)


@dataclass(frozen=True, slots=True)
class Merge:
    """How to merge: the tags every chat gets, and what to do with opted-out and bad lines."""

    tags: tuple[str, ...] = ()
    resubscribe: bool = False
    skip_invalid: bool = False
    dry_run: bool = False
    count_opted_out: bool = False
    skip_hint: str = "fix them or pass --skip-invalid"
    source: str = "import"  # a new subscriber's source


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
    how = Merge(tags, resubscribe=resubscribe, skip_invalid=skip_invalid, dry_run=dry_run)
    async with pool.acquire() as connection:
        found = await bot_rows.find(connection, bot)
        items = read_audience(path, stdin=stdin)
        return await merge(connection, found.id, items, source_name(path), how, items.custom_fields)


async def merge(
    connection: Connection,
    bot_id: int,
    items: Iterable[AudienceRecord | LineError],
    source: str,
    how: Merge,
    custom_fields: tuple[str, ...] = (),
) -> Imported:
    """Merge the items of an audience file into a bot's subscribers, in one transaction:
    all of it or, for an invalid line (InvalidLines, unless skip_invalid) or a dry run,
    none of it."""
    bad = LineErrors(source)
    opted_out = None
    transaction = connection.transaction()
    await transaction.start()
    try:
        result = await subscribers.import_staged(
            connection,
            bot_id,
            bad.records(items),
            tags=how.tags,
            source=how.source,
            resubscribe=how.resubscribe,
        )
        if how.count_opted_out:
            opted_out = await subscribers.opted_out_staged(connection, bot_id)
    except BaseException:
        await transaction.rollback()
        raise
    if bad.count and not how.skip_invalid:
        await transaction.rollback()
        raise errors.InvalidLines(
            f"{bad.count} invalid line(s); nothing imported ({how.skip_hint})",
            bad.lines(),
            source=bad.source,
        )
    if how.dry_run:
        await transaction.rollback()
    else:
        await transaction.commit()
    return Imported(result, custom_fields, bad, opted_out)


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


def segment_of(
    *,
    all_tags: Sequence[str] = (),
    any_tags: Sequence[str] = (),
    without_tags: Sequence[str] = (),
    languages: Sequence[str] = (),
    chat_types: Sequence[models.ChatType] = (),
    subscribed_after: tuple[str, str | None] = ("subscribed_after", None),
    subscribed_before: tuple[str, str | None] = ("subscribed_before", None),
) -> Segment:
    """The segment an export's filters select; a moment is (its option's name, its text)."""
    return Segment(
        tags=TagFilter(any=_tags(any_tags), all=_tags(all_tags), none=_tags(without_tags)),
        languages=tuple(code.strip().lower() for code in languages),
        chat_types=tuple(chat_types),
        subscribed_after=_moment(*subscribed_after),
        subscribed_before=_moment(*subscribed_before),
    )


def _tags(values: Sequence[str]) -> tuple[str, ...]:
    """Tags as imports store them: trimmed and lower-case."""
    return tuple(sorted({value.strip().lower() for value in values if value.strip()}))


def _moment(option: str, value: str | None) -> datetime | None:
    """An ISO 8601 date or time; one without a zone is UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise errors.InputError(
            f"{option} {value!r} is not an ISO 8601 date or time (like 2026-05-01 or "
            "2026-05-01T09:00+02:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
