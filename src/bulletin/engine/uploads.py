"""Local media files and API uploads: uploaded once per bot, then sent by the file_id
Telegram gave back."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Protocol

from bulletin import errors, models
from bulletin.content import media as media_files
from bulletin.engine.ports import Sender
from bulletin.telegram.outcome import Action, Outcome

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (sha256 of the file, media kind)
# What is uploaded to Telegram rather than named: a file here, or the bytes of an API upload.
UPLOADED = frozenset({models.MediaOrigin.PATH, models.MediaOrigin.UPLOAD})


class FileIds(Protocol):
    async def file_id(self, bot_id: int, sha256: str, kind: str) -> str | None: ...

    async def save(self, bot_id: int, sha256: str, kind: str, file_id: str) -> None: ...

    async def upload(self, sha256: str) -> models.Upload | None: ...


class Uploads:
    """A Sender for one bot that replaces local paths and API uploads with file ids it has
    already got.

    The first message with a new file uploads it while every other message with that file
    waits; then they all send the file_id. A failed upload (a blocked chat, say) lets the
    next message try. The database is only a cache of file ids here: while it is away a
    file is uploaded again, or its file_id kept in this process only, and the send goes on.
    """

    def __init__(self, sender: Sender, bot_id: int, file_ids: FileIds) -> None:
        self._sender = sender
        self._bot_id = bot_id
        self._file_ids = file_ids
        self._known: dict[Key, str] = {}
        self._digests: dict[tuple[str, int, int], str] = {}
        self._lock = asyncio.Lock()
        self.uploads = 0

    async def send(self, chat_id: int, message: models.Message, *, paid: bool = False) -> Outcome:
        if not message.media:
            return await self._sender.send(chat_id, message, paid=paid)
        try:
            keys = [await self._key(item) for item in message.media]
        except errors.ContentError as exc:  # the same for every chat: pause the run, with why
            return Outcome(Action.CONTENT_ERROR, f"cannot send the media file: {exc}")
        if all(key is None or key in self._known for key in keys):
            return await self._sender.send(chat_id, self._resolved(message, keys), paid=paid)
        async with self._lock:
            for key in keys:
                if key is not None and key not in self._known:
                    await self._recall(key)
            resolved = self._resolved(message, keys)
            if not any(m.origin in UPLOADED for m in resolved.media):
                return await self._sender.send(chat_id, resolved, paid=paid)
            return await self._upload(chat_id, resolved, keys, paid=paid)

    async def close(self) -> None:
        await self._sender.close()

    async def _upload(
        self, chat_id: int, message: models.Message, keys: list[Key | None], *, paid: bool
    ) -> Outcome:
        """Send with the files themselves (an API upload's bytes read from the store)."""
        media = []
        for item in message.media:
            if item.origin is models.MediaOrigin.UPLOAD:
                try:
                    upload = await self._file_ids.upload(media_files.upload_digest(item.source))
                except errors.DatabaseUnavailable as exc:  # nothing sent: try again later
                    return Outcome(Action.RETRY, f"cannot read upload {item.source}: {exc}")
                if upload is None:
                    return Outcome(Action.CONTENT_ERROR, f"no upload {item.source} is kept")
                item = dataclasses.replace(item, upload=upload)
            media.append(item)
        self.uploads += 1
        sent = dataclasses.replace(message, media=tuple(media))
        outcome = await self._sender.send(chat_id, sent, paid=paid)
        await self._remember(keys, sent, outcome)
        return outcome

    async def _key(self, item: models.Media) -> Key | None:
        """The file's digest: an upload's name, or a regular file within Telegram's limits,
        hashed off the loop."""
        if item.origin is models.MediaOrigin.UPLOAD:
            return media_files.upload_digest(item.source), item.kind.value
        if item.origin is not models.MediaOrigin.PATH:
            return None
        status = media_files.checked(item.source, item.kind)
        stamp = (item.source, status.st_mtime_ns, status.st_size)
        if stamp not in self._digests:
            self._digests[stamp] = await asyncio.to_thread(
                media_files.digest, item.source, item.kind
            )
        return self._digests[stamp], item.kind.value

    def _resolved(self, message: models.Message, keys: list[Key | None]) -> models.Message:
        resolved = tuple(
            dataclasses.replace(item, source=self._known[key])
            if key is not None and key in self._known
            else item
            for item, key in zip(message.media, keys, strict=True)
        )
        return dataclasses.replace(message, media=resolved)

    async def _recall(self, key: Key) -> None:
        """The file_id another process (or an earlier run) got; unknown while the database
        is away, which costs one upload more."""
        try:
            found = await self._file_ids.file_id(self._bot_id, *key)
        except errors.DatabaseUnavailable as exc:
            log.warning("action=file_id_recall_failed bot_id=%s error=%s", self._bot_id, exc)
            return
        if found is not None:
            self._known[key] = found

    async def _remember(
        self, keys: list[Key | None], sent: models.Message, outcome: Outcome
    ) -> None:
        if outcome.action is not Action.SENT or len(outcome.file_ids) != len(sent.media):
            return
        for key, item, file_id in zip(keys, sent.media, outcome.file_ids, strict=True):
            if key is not None and item.origin in UPLOADED:
                self._known[key] = file_id
                try:
                    await self._file_ids.save(self._bot_id, *key, file_id)
                except errors.DatabaseUnavailable as exc:
                    # Sent all the same: its outcome is recorded; this process alone reuses it.
                    log.warning("action=file_id_save_failed bot_id=%s error=%s", self._bot_id, exc)
