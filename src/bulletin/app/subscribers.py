"""The audience as the HTTP API reaches it: upserts, uploads, one subscriber, streamed exports.

Each is `audience import`, `export` or `forget` by another road: the same reader, the same
merge (opted-out and forgotten chats stay out), the same writer.
"""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

from bulletin import errors, models
from bulletin.app import audience
from bulletin.audience.reader import Format as FileFormat
from bulletin.audience.reader import read_stream
from bulletin.audience.subscriber import Subscriber
from bulletin.audience.writer import Format, Writer
from bulletin.campaign.spec import Segment
from bulletin.db import audience as audience_rows
from bulletin.db import bots as bot_rows
from bulletin.db import subscribers as subscriber_rows
from bulletin.db.pool import Pool

MAX_UPSERT = 10_000
UPSERT_SOURCE = "api"  # a subscriber's source when the API upserted it first
UPLOAD = "upload"  # how an uploaded file is named in its errors: upload:3: …
EXPORT_CHUNK_CHARS = 65_536  # an export is sent in pieces of about this much text
API_SKIP_HINT = "fix them or pass skip_invalid=true"


async def upsert(
    pool: Pool, bot: str, batch: Sequence[Subscriber], *, dry_run: bool = False
) -> audience.Imported:
    """Merge subscribers as `audience import` merges a file's lines (the same staging table
    and merge), all or nothing; on a dry run, in a transaction rolled back."""
    records = [subscriber.record(line) for line, subscriber in enumerate(batch, start=1)]
    how = audience.Merge(dry_run=dry_run, count_opted_out=True, source=UPSERT_SOURCE)
    async with pool.acquire() as connection:
        found = await bot_rows.find(connection, bot)
        return await audience.merge(connection, found.id, records, "subscribers", how)


async def import_upload(
    pool: Pool,
    bot: str,
    body: bytes,
    file_format: FileFormat | None,
    *,
    tags: Sequence[str] = (),
    skip_invalid: bool = False,
    dry_run: bool = False,
) -> audience.Imported:
    """`audience import` of an uploaded file: InvalidLines naming the first bad line."""
    how = audience.Merge(
        tags=tuple(sorted({tag.strip().lower() for tag in tags if tag.strip()})),
        skip_invalid=skip_invalid,
        dry_run=dry_run,
        count_opted_out=True,
        skip_hint=API_SKIP_HINT,
    )
    async with pool.acquire() as connection:
        found = await bot_rows.find(connection, bot)
        items = read_stream(io.BytesIO(body), UPLOAD, file_format)
        try:
            return await audience.merge(
                connection, found.id, items, UPLOAD, how, items.custom_fields
            )
        except errors.InvalidLines as refused:
            # One line for the API: the first bad line, then how many and what became of them.
            how_many = refused.message.removeprefix(f"{UPLOAD}: ")
            raise errors.InvalidLines(
                f"{refused.told[0]}; {how_many}", list(refused.told)
            ) from None


async def find(pool: Pool, bot: str, chat_id: int) -> dict[str, Any]:
    """One subscriber of a bot, with the columns of an export; NotFound if none."""
    async with pool.acquire() as connection:
        found = await bot_rows.find(connection, bot)
        record = await subscriber_rows.find(connection, found.id, chat_id)
    if record is None:
        raise errors.NotFound(f"chat {chat_id} is not a subscriber of bot {bot!r}")
    return record


@dataclass(frozen=True, slots=True)
class ForgotOne:
    """`audience forget CHAT --bot BOT`: whether the bot knew the chat (a tombstone stays)."""

    chat_id: int
    bot: str
    erased: bool

    @property
    def message(self) -> str:
        erased = 1 if self.erased else 0
        return (
            f"forgot chat {self.chat_id}: personal data erased for {erased} bot(s); "
            "tombstones keep it from being imported again for 1 bot(s)"
        )


async def forget(pool: Pool, bot: str, chat_id: int) -> ForgotOne:
    """Erase one chat for one bot, leaving a tombstone even if the bot never knew it."""
    forgotten = await audience.forget(pool, chat_id, bot)
    return ForgotOne(chat_id, bot, any(item.was_known for item in forgotten))


async def export_chunks(
    pool: Pool,
    bot: str,
    status: models.SubscriberStatus | None,
    segment: Segment,
    file_format: Format,
    *,
    raw: bool = False,
) -> AsyncGenerator[str]:
    """What `audience export` writes, in pieces, read through a server-side cursor.

    The first piece (the CSV header, or nothing for JSON Lines) comes once the bot is
    found, so a caller can wait for it before it answers: errors come before any output.
    """
    async with pool.acquire() as connection:
        found = await bot_rows.find(connection, bot)
        selection = audience_rows.Filter(found.id, status, segment)
        names = await audience_rows.field_names(connection, selection)
        buffer = io.StringIO()
        writer = Writer(buffer, file_format, names, raw=raw)
        yield _taken(buffer)
        async with connection.transaction():
            async for record in audience_rows.export(connection, selection):
                writer.write(record)
                if buffer.tell() >= EXPORT_CHUNK_CHARS:
                    yield _taken(buffer)
        yield _taken(buffer)


def _taken(buffer: io.StringIO) -> str:
    """The buffer's text, leaving it empty."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
