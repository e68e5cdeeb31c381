"""The dashboard's sign-in sessions: a hash of each cookie's secret, never the secret."""

from __future__ import annotations

from typing import Any

from bulletin.db.connection import Connection
from bulletin.db.queries import sql


async def insert(
    connection: Connection,
    secret_sha256: bytes,
    token_id: int | None,
    csrf_token: str,
    lifetime_s: float,
) -> int:
    """A new session (and expired ones swept); its id."""
    session_id: int = await connection.fetchval(
        sql("insert_dashboard_session"), secret_sha256, token_id, csrf_token, lifetime_s
    )
    return session_id


async def find(connection: Connection, secret_sha256: bytes) -> dict[str, Any] | None:
    """The live session of this secret, with its token's name and role (None: open access)."""
    row = await connection.fetchrow(sql("dashboard_session"), secret_sha256)
    return dict(row) if row is not None else None


async def delete(connection: Connection, secret_sha256: bytes) -> None:
    await connection.execute(sql("delete_dashboard_session"), secret_sha256)


async def token_id(connection: Connection, token_sha256: bytes) -> int | None:
    """The id of the API token with this hash, or None."""
    found: int | None = await connection.fetchval(sql("dashboard_token_id"), token_sha256)
    return found
