"""The media tables: files uploaded through the API, and Telegram's file_id of each file, per
bot, once uploaded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from bulletin import errors, models
from bulletin.db.connection import Connection
from bulletin.db.pool import connection as pooled
from bulletin.db.queries import sql


class MediaFiles:
    """Remembers file ids across workers and restarts, so a file is uploaded once per bot;
    reads the bytes of API uploads for the first send."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def file_id(self, bot_id: int, sha256: str, kind: str) -> str | None:
        async with pooled(self._pool) as connection:
            found: str | None = await connection.fetchval(
                sql("media_file_id"), bot_id, sha256, kind
            )
            return found

    async def save(self, bot_id: int, sha256: str, kind: str, file_id: str) -> None:
        async with pooled(self._pool) as connection:
            await connection.execute(sql("save_media_file_id"), bot_id, sha256, kind, file_id)

    async def upload(self, sha256: str) -> models.Upload | None:
        """The bytes of an API upload, or None if there is no such upload."""
        async with pooled(self._pool) as connection:
            row = await connection.fetchrow(sql("media_upload_content"), sha256)
        return None if row is None else models.Upload(row["filename"], row["content"])


@dataclass(frozen=True, slots=True)
class Uploaded:
    sha256: str
    filename: str
    content_type: str
    size_bytes: int
    created_at: datetime
    created: bool  # False: the same bytes were uploaded before


async def save_upload(
    connection: Connection, sha256: str, filename: str, content_type: str, content: bytes
) -> Uploaded:
    """Keep an uploaded file (once for the same bytes)."""
    for _ in range(2):
        row = await connection.fetchrow(
            sql("save_media_upload"), sha256, filename, content_type, content
        )
        if row is not None:
            return Uploaded(**dict(row))
        # The same bytes inserted at once by another request, committed after this
        # statement's snapshot: the next statement sees that row.
    raise errors.DatabaseError(f"upload {sha256} was neither kept nor found; try again")


async def upload_sizes(connection: Connection, digests: Sequence[str]) -> dict[str, int]:
    """The size in bytes of each of these uploads that exists, by sha256."""
    rows = await connection.fetch(sql("media_uploads_known"), list(digests))
    return {row["sha256"]: row["size_bytes"] for row in rows}
