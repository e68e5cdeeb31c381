"""The media_files table: Telegram's file_id of each local file, per bot, once uploaded."""

from __future__ import annotations

import asyncpg

from bulletin.db.pool import connection as pooled
from bulletin.db.queries import sql


class MediaFiles:
    """Remembers file ids across workers and restarts, so a file is uploaded once per bot."""

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
