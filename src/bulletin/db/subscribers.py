"""The subscribers table: bulk import through COPY, counts and listings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any, Protocol

import asyncpg

from bulletin import models
from bulletin.db import stats
from bulletin.db.connection import Connection
from bulletin.db.queries import sql

STAGING_COLUMNS = (
    "line",
    "chat_id",
    "chat_type",
    "first_name",
    "username",
    "language_code",
    "tags",
    "fields",
)


class StagedSubscriber(Protocol):
    """One row of an audience file (bulletin.audience.reader.AudienceRecord fits)."""

    @property
    def line(self) -> int: ...
    @property
    def chat_id(self) -> int: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def username(self) -> str | None: ...
    @property
    def language_code(self) -> str | None: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def fields(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class MergeResult:
    inserted: int
    updated: int  # known chats the file changed
    unchanged: int = 0  # known chats the file changed nothing of
    resubscribed: int = 0  # opted-out chats re-subscribed by --resubscribe
    forgotten: int = 0  # chats left out because they were forgotten

    @property
    def known(self) -> int:
        """Chats of the file that were subscribers already."""
        return self.updated + self.unchanged


async def import_staged(
    connection: Connection,
    bot_id: int,
    staged: Iterable[StagedSubscriber],
    *,
    tags: tuple[str, ...] = (),
    source: str = "import",
    resubscribe: bool = False,
) -> MergeResult:
    """COPY rows into a staging table and merge them in one statement.

    Must run inside a transaction: the staging table drops on commit, and an error
    raised while `staged` is consumed rolls everything back. With resubscribe, chats
    that unsubscribed are subscribed again (an event each); blocked and gone chats never.
    """
    await connection.execute(sql("create_staging"))
    await connection.copy_records_to_table(
        "audience_staging", records=(_as_row(row) for row in staged), columns=STAGING_COLUMNS
    )
    await connection.execute(sql("bulk_settings"))
    resubscribed = 0
    if resubscribe:
        resubscribed = await connection.fetchval(sql("resubscribe_staged"), bot_id)
    extra_tags = sorted(set(tags))
    row = await connection.fetchrow(sql("merge_staging"), bot_id, extra_tags, source)
    assert row is not None
    await stats.add_subscribers(connection, bot_id, subscribed=row["inserted"] + resubscribed)
    return MergeResult(
        inserted=row["inserted"],
        updated=row["updated"],
        unchanged=row["unchanged"],
        resubscribed=resubscribed,
        forgotten=row["forgotten"],
    )


def _as_row(staged: StagedSubscriber) -> tuple[Any, ...]:
    tags = staged.tags
    return (
        staged.line,
        staged.chat_id,
        models.ChatType.from_chat_id(staged.chat_id),
        staged.first_name,
        staged.username,
        staged.language_code,
        # The merge expects each line's tags sorted and distinct.
        tags if len(tags) < 2 else sorted(set(tags)),
        _as_json(staged.fields),
    )


def _as_json(fields: Mapping[str, str]) -> str:
    """A JSON object of text fields, written directly: json.dumps costs twice as much."""
    pairs = [
        f"{encode_basestring(key)}:{encode_basestring(value)}" for key, value in fields.items()
    ]
    return "{" + ",".join(pairs) + "}"


async def opted_out_staged(connection: Connection, bot_id: int) -> int:
    """After import_staged, in its transaction: the staged chats that stay opted out."""
    found: int = await connection.fetchval(sql("opted_out_staged"), bot_id)
    return found


async def find(connection: Connection, bot_id: int, chat_id: int) -> dict[str, Any] | None:
    """One subscriber with the columns of an export, or None."""
    row = await connection.fetchrow(sql("find_subscriber"), bot_id, chat_id)
    if row is None:
        return None
    record = dict(row)
    record["fields"] = json.loads(record["fields"])
    return record


async def counts(connection: Connection, bot_id: int | None) -> list[tuple[str, str, int]]:
    """(bot name, status, subscribers) for one bot or all."""
    rows = await connection.fetch(sql("subscriber_counts"), bot_id)
    return [(row["bot"], row["status"], row["subscribers"]) for row in rows]


async def list_page(
    connection: Connection,
    bot_id: int,
    status: models.SubscriberStatus | None,
    limit: int,
) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        sql("list_subscribers"), bot_id, status.value if status else None, limit
    )
    return [dict(row) for row in rows]


def to_recipient(row: asyncpg.Record) -> models.Recipient:
    """The fields of a subscriber a template may read, from a row with the subscriber columns."""
    return models.Recipient(
        chat_id=row["chat_id"],
        first_name=row["first_name"],
        username=row["username"],
        language_code=row["language_code"],
        tags=tuple(row["tags"]),
        fields=row["fields"],
    )
