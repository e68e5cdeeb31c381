"""The outbox: a bot's messages that are not campaign deliveries (replies, test sends).

Each is a row before it is sent; the worker holding the bot's lease sends it through that
bot's pacer. The message is stored as rendered, as JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from bulletin import models
from bulletin.db import clock
from bulletin.db.connection import Connection
from bulletin.db.queries import sql


async def enqueue(
    connection: Connection,
    bot_id: int,
    chat_id: int,
    kind: models.OutboxKind,
    message: models.Message,
) -> int:
    """Queue one message and wake the bot's lease holder when the transaction commits."""
    outbox_id: int = await connection.fetchval(
        sql("insert_outbox"), bot_id, chat_id, kind.value, encode(message)
    )
    return outbox_id


async def claim(
    connection: Connection, bot_id: int, worker_id: str, limit: int, claim_id: int
) -> list[models.OutboxMessage]:
    rows = await connection.fetch(sql("claim_outbox"), bot_id, worker_id, limit, claim_id)
    return [_to_outbox_message(row) for row in rows]


async def record(
    connection: Connection, worker_id: str, results: Sequence[models.OutboxResult]
) -> None:
    await connection.execute(
        sql("record_outbox"),
        worker_id,
        [r.outbox_id for r in results],
        [r.status.value for r in results],
        [r.message_id for r in results],
        [r.error for r in results],
        [r.attempt_increment for r in results],
        [r.delay_s for r in results],
        clock.answer_ages_s(results),
        [r.claim_id for r in results],
    )


async def release(
    connection: Connection, worker_id: str, claims: Sequence[tuple[int, int]]
) -> None:
    """Put (outbox id, claim id) pairs never handed to Telegram back to pending."""
    ids, claim_ids = [list(column) for column in zip(*claims, strict=True)] or ([], [])
    await connection.execute(sql("release_outbox"), worker_id, ids, claim_ids)


async def outcomes(
    connection: Connection, outbox_ids: Sequence[int]
) -> list[tuple[models.OutboxStatus, str | None]]:
    """The status and error of each message, in id order."""
    rows = await connection.fetch(sql("outbox_outcomes"), list(outbox_ids))
    return [(models.OutboxStatus(row["status"]), row["error"]) for row in rows]


async def cancel(connection: Connection, outbox_ids: Sequence[int], reason: str) -> None:
    """Fail the messages still waiting, so that none goes out later, unexpected."""
    await connection.execute(sql("cancel_outbox"), list(outbox_ids), reason)


def encode(message: models.Message) -> str:
    return json.dumps(dataclasses.asdict(message))


def decode(text: str) -> models.Message:
    """The inverse of encode: the nested records rebuilt from their JSON objects."""
    data: dict[str, Any] = json.loads(text)
    preview = data.pop("link_preview")
    return models.Message(
        **{
            **data,
            "kind": models.ContentKind(data["kind"]),
            "parse_mode": models.ParseMode(data["parse_mode"]),
            "media": tuple(
                models.Media(models.ContentKind(m["kind"]), m["source"], m["caption"])
                for m in data["media"]
            ),
            "buttons": tuple(tuple(models.Button(**b) for b in row) for row in data["buttons"]),
        },
        link_preview=models.LinkPreview(**preview) if preview is not None else None,
    )


def _to_outbox_message(row: asyncpg.Record) -> models.OutboxMessage:
    return models.OutboxMessage(
        id=row["id"],
        claim_id=row["claim_id"],
        bot_id=row["bot_id"],
        chat_id=row["chat_id"],
        kind=models.OutboxKind(row["kind"]),
        message=decode(row["message"]),
        attempts=row["attempts"],
    )
