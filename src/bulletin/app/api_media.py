"""Media uploaded through the API: kept in the database, named `upload:<sha256>` by campaigns,
and sent by the engine as it sends a local file (uploaded once per bot, then by file_id)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from bulletin import errors, models
from bulletin.db import media as media_rows
from bulletin.db.pool import Pool

# A file's name as Telegram shows it: no folders, no control characters.
FILENAME = re.compile(r"^[^\x00-\x1f\x7f/\\]{1,255}$")
CONTENT_TYPE = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")
DEFAULT_CONTENT_TYPE = "application/octet-stream"


async def upload(
    pool: Pool, *, filename: str, content_type: str | None, content: bytes
) -> dict[str, Any]:
    """Keep a file (the same bytes once) and say how a campaign names it."""
    if not FILENAME.match(filename) or filename in (".", ".."):
        raise errors.InputError("filename: 1 to 255 characters, no / \\ or control characters")
    content_type = (content_type or DEFAULT_CONTENT_TYPE).strip()
    if not CONTENT_TYPE.match(content_type):
        raise errors.InputError("Content-Type: printable ASCII, at most 255 characters")
    if not content:
        raise errors.InputError("body: an upload has at least one byte")
    digest = hashlib.sha256(content).hexdigest()
    async with pool.acquire() as connection:
        saved = await media_rows.save_upload(connection, digest, filename, content_type, content)
    return {
        "media": f"{models.UPLOAD_PREFIX}{saved.sha256}",
        "sha256": saved.sha256,
        "filename": saved.filename,
        "content_type": saved.content_type,
        "size_bytes": saved.size_bytes,
        "created": saved.created,
        "created_at": saved.created_at,
    }
