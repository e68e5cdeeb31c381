"""The API's tokens and the answers kept for its Idempotency-Keys."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from bulletin import errors
from bulletin.db.connection import Connection
from bulletin.db.queries import sql


async def insert(
    connection: Connection, name: str, role: str, secret_sha256: bytes
) -> dict[str, Any]:
    try:
        row = await connection.fetchrow(sql("insert_api_token"), name, role, secret_sha256)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "api_tokens_name_key":
            raise errors.AlreadyExists(f"a token named {name!r} already exists") from None
        raise  # two random 32-byte secrets alike: not a case worth a message
    assert row is not None
    return dict(row)


async def list_all(connection: Connection) -> list[dict[str, Any]]:
    return [dict(row) for row in await connection.fetch(sql("api_tokens"))]


async def delete(connection: Connection, name: str) -> None:
    if await connection.fetchval(sql("delete_api_token"), name) is None:
        raise errors.NotFound(f"no token named {name!r} (`bulletin token list` shows them)")


async def count(connection: Connection) -> int:
    found: int = await connection.fetchval(sql("api_token_count"))
    return found


async def authenticate(connection: Connection, secret_sha256: bytes) -> dict[str, Any] | None:
    row = await connection.fetchrow(sql("authenticate_api_token"), secret_sha256)
    return dict(row) if row is not None else None


async def claim_key(connection: Connection, scope: str, key: str) -> tuple[int, Any] | None:
    """None: the key is this transaction's to use; else the answer given for it before."""
    if await connection.fetchval(sql("claim_idempotency_key"), scope, key):
        return None
    row = await connection.fetchrow(sql("idempotent_answer"), scope, key)
    assert row is not None
    return row["status_code"], json.loads(row["answer"])


async def keep_answer(
    connection: Connection, scope: str, key: str, status_code: int, answer: Any
) -> None:
    await connection.execute(
        sql("keep_idempotent_answer"), scope, key, status_code, json.dumps(answer, default=str)
    )
