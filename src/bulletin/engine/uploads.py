"""Local media files and API uploads: uploaded once per bot, then sent by the file_id
Telegram gave back."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Protocol

from bulletin import errors, models
from bulletin.content import media as media_files
from bulletin.engine.ports import Sender
from bulletin.telegram.outcome import Action, Outcome

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
    next message try.
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
                upload = await self._file_ids.upload(media_files.upload_digest(item.source))
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
        found = await self._file_ids.file_id(self._bot_id, *key)
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
                await self._file_ids.save(self._bot_id, *key, file_id)
