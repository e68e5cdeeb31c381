"""Files the sandbox's Telegram holds: uploads and downloads by URL, each with a per-bot file_id."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field

# Telegram's upload limits through api.telegram.org.
PHOTO_UPLOAD_LIMIT = 10 * 1024 * 1024
UPLOAD_LIMIT = 50 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    name: str
    filename: str
    content: bytes


@dataclass(frozen=True)
class StoredFile:
    """A file Telegram keeps; its file_id works only for the bot it was given to."""

    file_id: str
    file_unique_id: str
    kind: str
    size: int
    bot_id: int


@dataclass
class Files:
    """Every stored file by id, and the web resources a URL may name."""

    by_id: dict[str, StoredFile] = field(default_factory=dict)
    web: dict[str, bytes] = field(default_factory=dict)
    uploads: int = 0
    downloads: int = 0
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_url(self, url: str, content: bytes = b"\x89PNG sandbox image") -> None:
        """Make a URL downloadable by the sandbox's Telegram."""
        self.web[url] = content

    def store(self, bot_id: int, kind: str, content: bytes) -> StoredFile:
        """Keep a file for a bot and return it with a new file_id."""
        serial = next(self._serial)
        unique = hashlib.sha256(content).hexdigest()[:16]
        stored = StoredFile(
            f"BQAC{kind[:2]}{bot_id}x{serial:06d}", unique, kind, len(content), bot_id
        )
        self.by_id[stored.file_id] = stored
        return stored

    def find(self, bot_id: int, file_id: str) -> StoredFile | None:
        """A file of this bot's, or None: file ids do not move between bots."""
        stored = self.by_id.get(file_id)
        return stored if stored is not None and stored.bot_id == bot_id else None
