"""API tokens: made and shown once, kept only as a hash, checked on every request."""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bulletin import errors
from bulletin.db import tokens as token_rows
from bulletin.db.pool import Pool

PREFIX = "blt_"  # recognisable in a leaked config or a secret scanner's rules
SECRET_BYTES = 32
MAX_NAME_CHARS = 64


class Role(enum.StrEnum):
    """What a token may do: an admin writes, a viewer only reads."""

    ADMIN = "admin"
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True)
class Token:
    """A token as kept: never its secret."""

    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None


def _token(row: Mapping[str, Any]) -> Token:
    return Token(row["name"], Role(row["role"]), row["created_at"], row["last_used_at"])


def digest(secret: str) -> bytes:
    """What is kept of a secret: 32 random bytes need no slow hash to resist guessing."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


async def create(pool: Pool, role: Role, name: str | None = None) -> tuple[Token, str]:
    """A new token and its secret, which is shown this once and never kept."""
    secret = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    chosen = name if name is not None else f"{role.value}-{secrets.token_hex(3)}"
    if not chosen.strip() or len(chosen) > MAX_NAME_CHARS or not chosen.isprintable():
        raise errors.InputError(f"a token name is 1 to {MAX_NAME_CHARS} printable characters")
    async with pool.acquire() as connection:
        row = await token_rows.insert(connection, chosen, role.value, digest(secret))
    return _token(row), secret


async def list_all(pool: Pool) -> list[Token]:
    async with pool.acquire() as connection:
        return [_token(row) for row in await token_rows.list_all(connection)]


async def revoke(pool: Pool, name: str) -> None:
    """The token stops working at once: every request looks it up."""
    async with pool.acquire() as connection:
        await token_rows.delete(connection, name)


async def count(pool: Pool) -> int:
    async with pool.acquire() as connection:
        return await token_rows.count(connection)


async def authenticate(pool: Pool, secret: str) -> Token | None:
    """The token this secret belongs to, or None."""
    if not secret.startswith(PREFIX):
        return None  # spares the database a lookup for what cannot be ours
    async with pool.acquire() as connection:
        row = await token_rows.authenticate(connection, digest(secret))
    return _token(row) if row is not None else None
