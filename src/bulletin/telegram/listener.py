"""One bot's updates, by long polling or from a webhook, applied by the consent rules."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Sequence
from typing import Protocol, TypeVar

from aiogram import types
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError

from bulletin import errors, models, redact, subscriptions
from bulletin.config import ListenerSettings
from bulletin.telegram.client import BotClient
from bulletin.telegram.signals import ALLOWED_UPDATES, signal_of, update_kind

log = logging.getLogger(__name__)

T = TypeVar("T")

BACKOFF_FIRST_S = 0.5
BACKOFF_CAP_S = 30.0


class OffsetStore(Protocol):
    """Where updates are applied, replies queued, and each bot's long polling resumes."""

    async def apply_updates(
        self, bot_id: int, decisions: Sequence[tuple[int, subscriptions.Decision]]
    ) -> list[bool]:
        """Apply in one transaction, queueing replies; False for an update applied before."""
        ...

    async def next_update_id(self, bot_id: int) -> int: ...


class UpdateObserver(Protocol):
    """Where a listener reports each update it receives, by kind (signals.UPDATE_KINDS)."""

    def update_received(self, bot: str, kind: str) -> None: ...


class Listener:
    """Applies one bot's updates; the answers to people who opt in or out go to the outbox.

    The bot's lease holder sends them, through the bot's one pacer: a listener never sends.
    """

    def __init__(
        self,
        bot: models.Bot,
        client: BotClient,
        store: OffsetStore,
        settings: ListenerSettings,
        observer: UpdateObserver | None = None,
    ) -> None:
        self.bot = bot
        self.client = client
        self.store = store
        self.settings = settings
        self._observer = observer

    @property
    def secret_token(self) -> str:
        """The webhook secret: derived from the token, so every instance agrees on it."""
        key = self.bot.token.encode()
        return hmac.new(key, b"bulletin webhook", hashlib.sha256).hexdigest()

    async def handle(self, update: types.Update) -> bool:
        """Apply one update; False when it was applied before (then nobody is answered)."""
        return (await self.handle_batch([update]))[0]

    async def handle_batch(self, updates: Sequence[types.Update]) -> list[bool]:
        """Apply updates in order in one transaction; False for each applied before."""
        if self._observer is not None:
            for update in updates:
                self._observer.update_received(self.bot.name, update_kind(update))
        return await self._apply(updates)

    async def _apply(self, updates: Sequence[types.Update]) -> list[bool]:
        decisions = [
            (update.update_id, subscriptions.decide(signal_of(update), self.settings))
            for update in updates
        ]
        return await self.store.apply_updates(self.bot.id, decisions)

    async def poll(self, stop: asyncio.Event) -> None:
        """Long-poll until stop is set or the token is revoked; the offset lives in the store."""
        offset: int | None = None
        failures = 0
        while not stop.is_set():
            try:
                if offset is None:
                    # getUpdates is refused while a webhook is set.
                    await self.client.delete_webhook()
                    offset = await self.store.next_update_id(self.bot.id)
                batch = await until_stopped(self._fetch(offset), stop)
            except TelegramUnauthorizedError:
                log.error("action=listen_stopped bot=%s reason=token_rejected", self.bot.name)
                return
            except (TelegramAPIError, TimeoutError, OSError, errors.DatabaseUnavailable) as error:
                failures += 1
                delay_s = min(BACKOFF_FIRST_S * 2 ** (failures - 1), BACKOFF_CAP_S)
                log.warning("action=poll_failed bot=%s error=%s delay_s=%.1f", self.bot.name,
                            redact.text(str(error), self.client.secrets), delay_s)  # fmt: skip
                await until_stopped(asyncio.sleep(delay_s), stop)
                continue
            failures = 0
            offset = await self._handle_batch(batch or [], offset, stop)

    async def _handle_batch(
        self, batch: list[types.Update], offset: int, stop: asyncio.Event
    ) -> int:
        """Apply a batch in one transaction; return the offset to poll from next."""
        if not batch:
            return offset
        try:
            await self.handle_batch(batch)
        except Exception:
            # One update the rules or the store cannot take must not hold back the others:
            # they are applied one at a time, and that one is logged and passed over.
            log.warning("action=batch_failed bot=%s updates=%d", self.bot.name, len(batch))
            for update in batch:
                if stop.is_set():
                    return offset
                await self._handle_safely(update)
                offset = update.update_id + 1
        return batch[-1].update_id + 1

    def _fetch(self, offset: int) -> Awaitable[list[types.Update]]:
        return self.client.get_updates(offset, self.settings.poll_timeout_s, ALLOWED_UPDATES)

    async def _handle_safely(self, update: types.Update) -> None:
        # One update the rules or the store cannot take must not stop this bot's
        # listener; the store already waits out transient database errors.
        try:
            await self._apply([update])
        except Exception:
            log.exception("action=update_failed bot=%s update_id=%s", self.bot.name,
                          update.update_id)  # fmt: skip


async def until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """The result of work, or None once stop is set first (work is then cancelled)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return None if task.cancelled() else task.result()


async def poll_all(listeners: Sequence[Listener], stop: asyncio.Event) -> None:
    """One long-polling loop per bot, until stop is set."""
    async with asyncio.TaskGroup() as group:
        for listener in listeners:
            group.create_task(listener.poll(stop))
