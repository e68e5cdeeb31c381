"""A bot's audience out of the database and by hand: export, tags, and forgetting a chat."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bulletin import models
from bulletin.campaign.spec import Segment
from bulletin.db.campaigns import segment_filters
from bulletin.db.connection import Connection
from bulletin.db.queries import sql

EXPORT_PREFETCH = 2000


@dataclass(frozen=True, slots=True)
class Filter:
    """Which subscribers of a bot to export: a status (None: any) and a campaign's segment
    filters, meaning what they mean there (the segment's bots are not read)."""

    bot_id: int
    status: models.SubscriberStatus | None = None
    segment: Segment = field(default_factory=Segment)

    def arguments(self) -> tuple[Any, ...]:
        status = self.status.value if self.status else None
        return self.bot_id, status, *segment_filters(self.segment)


async def field_names(connection: Connection, selection: Filter) -> list[str]:
    """The custom field names used by the selected subscribers, sorted."""
    rows = await connection.fetch(sql("export_field_names"), *selection.arguments())
    return [row["name"] for row in rows]


async def export(connection: Connection, selection: Filter) -> AsyncIterator[dict[str, Any]]:
    """Stream the selected subscribers, oldest first, through a cursor (in a transaction)."""
    cursor = connection.cursor(
        sql("export_subscribers"), *selection.arguments(), prefetch=EXPORT_PREFETCH
    )
    async for row in cursor:
        record = dict(row)
        record["fields"] = json.loads(record["fields"])
        yield record


async def tag(
    connection: Connection, bot_id: int, chat_ids: Sequence[int], tags: Sequence[str]
) -> set[int]:
    """Add tags to chats; return the chat ids that were found."""
    rows = await connection.fetch(sql("tag_subscribers"), bot_id, list(chat_ids), list(tags))
    return {row["chat_id"] for row in rows}


async def untag(
    connection: Connection, bot_id: int, chat_ids: Sequence[int], tags: Sequence[str]
) -> set[int]:
    """Remove tags from chats; return the chat ids that were found."""
    rows = await connection.fetch(sql("untag_subscribers"), bot_id, list(chat_ids), list(tags))
    return {row["chat_id"] for row in rows}


@dataclass(frozen=True, slots=True)
class Forgotten:
    """A chat forgotten for one bot, and whether that bot knew it."""

    bot_id: int
    was_known: bool


async def forget(connection: Connection, bot_id: int | None, chat_id: int) -> list[Forgotten]:
    """Erase a chat for one bot (or every bot that knows it), leaving hashed tombstones."""
    rows = await connection.fetch(sql("forget_chat"), bot_id, chat_id)
    return [Forgotten(row["bot_id"], row["was_known"]) for row in rows]
