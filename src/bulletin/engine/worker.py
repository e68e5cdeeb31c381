"""A worker: lease bots, run a BotSender per leased bot, record outcomes, drain on stop."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence

from bulletin import errors
from bulletin.config import WorkerSettings
from bulletin.engine.bot_sender import BotSender
from bulletin.engine.ports import Notices, Observer, SenderFactory, Store
from bulletin.engine.recorder import Recorder

log = logging.getLogger(__name__)

MAX_BOTS_PER_WORKER = 1000


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Delivers every due delivery of the bots it can lease, until stopped.

    With `outbox_only`, it is the sender of a process that is no worker (`bulletin listen`,
    `campaign check`): it leases a bot only while its outbox has a message due and nobody
    else holds it, sends the outbox at the bot's pace, and gives the lease back.
    """

    def __init__(
        self,
        store: Store,
        sender_factory: SenderFactory,
        settings: WorkerSettings,
        *,
        worker_id: str | None = None,
        only_bots: Sequence[int] | None = None,
        on_runs_finished: Callable[[list[int]], None] | None = None,
        notices: Notices | None = None,
        outbox_only: bool = False,
        observer: Observer | None = None,
    ) -> None:
        self.worker_id = worker_id or new_worker_id()
        self._observer = observer
        self._notices = notices
        self._outbox_only = outbox_only
        self._lease_wake = asyncio.Event()  # a bot nobody here holds has a message waiting
        self._stopping = False
        self._store = store
        self._sender_factory = sender_factory
        self._settings = settings
        self._only_bots = only_bots
        self.recorder = Recorder(
            store,
            self.worker_id,
            flush_interval_s=settings.flush_interval_s,
            on_runs_finished=on_runs_finished,
        )
        self.senders: dict[int, BotSender] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Run until stop is set; then stop claiming, finish in-flight sends, flush, release."""
        recorder_stop = asyncio.Event()
        notices_stop = asyncio.Event()
        gave_up: errors.NothingToDo | None = None
        log.info("action=worker_start worker=%s", self.worker_id)
        async with asyncio.TaskGroup() as group:
            recording = group.create_task(self.recorder.run(recorder_stop))
            if self._notices is not None:
                group.create_task(self._notices.listen(self, notices_stop))
            try:
                await self._lease_loop(stop, group)
            except errors.NothingToDo as exc:
                gave_up = exc
            finally:
                notices_stop.set()
                await self._stop_senders()
                recorder_stop.set()
                await recording
                await self._release_leases()
        log.info("action=worker_stop worker=%s", self.worker_id)
        if gave_up is not None:
            raise gave_up

    async def _lease_loop(self, stop: asyncio.Event, group: asyncio.TaskGroup) -> None:
        interval_s = self._settings.lease_s / 3
        while not stop.is_set():
            self._lease_wake.clear()
            await self._refresh_leases(group)
            if not self.senders and not self._outbox_only:
                await self._give_up_if_hopeless()
            await _first_of(
                stop, self._lease_wake, min(interval_s, self._settings.poll_interval_s * 2)
            )

    async def _refresh_leases(self, group: asyncio.TaskGroup) -> None:
        lease = self._store.lease_outbox_bots if self._outbox_only else self._store.lease_bots
        try:
            leased = await lease(
                self.worker_id, self._settings.lease_s, MAX_BOTS_PER_WORKER, self._only_bots
            )
        except errors.DatabaseUnavailable as exc:
            log.warning("action=lease_failed worker=%s error=%s", self.worker_id, exc)
            return
        for bot_id in set(self.senders) - set(leased):
            self._forget(bot_id)
        for bot_id in leased:
            if bot_id not in self.senders or self._tasks[bot_id].done():
                await self._start_sender(bot_id, group)
            else:
                await self._refresh_bot(self.senders[bot_id])

    async def _give_up_if_hopeless(self) -> None:
        """Exit instead of idling forever when every bot with work has a revoked token."""
        try:
            revoked = await self._store.revoked_bots_with_work()
        except errors.DatabaseUnavailable:
            return
        if revoked:
            raise errors.NothingToDo(
                f"every bot with pending deliveries is revoked ({', '.join(revoked)}); "
                "re-add a valid token with `bulletin bot add`"
            )

    async def _start_sender(self, bot_id: int, group: asyncio.TaskGroup) -> None:
        try:
            settled = await self._store.settle_orphans(
                bot_id, self.worker_id, self._settings.resend_uncertain
            )
            bot = await self._store.bot(bot_id)
        except errors.DatabaseUnavailable as exc:
            log.warning("action=start_sender_failed bot=%s error=%s", bot_id, exc)
            return
        if settled:
            log.warning("action=settled_orphans bot=%s deliveries=%d", bot.name, len(settled))
            self.recorder.check_runs(sorted({run_id for run_id, _ in settled}))
        # In a thread: the first client of a process may import its Bot API library (seconds),
        # which must not stall this loop's lease renewals and other bots' sends.
        client = await asyncio.to_thread(self._sender_factory, bot)
        sender = BotSender(
            bot,
            store=self._store,
            sender=client,
            recorder=self.recorder,
            settings=self._settings,
            worker_id=self.worker_id,
            outbox_only=self._outbox_only,
            observer=self._observer,
        )
        self.senders[bot_id] = sender
        self._tasks[bot_id] = group.create_task(self._sending(sender))
        log.info("action=bot_leased bot=%s rate_per_s=%s", bot.name, bot.rate_per_s)

    async def _refresh_bot(self, sender: BotSender) -> None:
        """Follow `bulletin bot set`: a new pace in place, a new route by a fresh sender."""
        try:
            bot = await self._store.bot(sender.bot.id)
        except errors.DatabaseUnavailable as exc:
            log.warning("action=refresh_bot_failed bot=%s error=%s", sender.bot.name, exc)
            return
        old = sender.bot
        if (bot.token, bot.api_url, bot.proxies) != (old.token, old.api_url, old.proxies):
            self._forget(bot.id)  # drains; the next lease refresh starts a new sender
            return
        sender.update(bot)

    async def _sending(self, sender: BotSender) -> None:
        """Run one bot's sender; when it ends before the worker does, give its lease back.

        Only once its outcomes are written: the next holder would settle rows still
        `sending` under this worker as orphans.
        """
        await sender.run()
        current = self.senders.get(sender.bot.id)
        if self._stopping or (current is not None and current is not sender):
            return  # the worker gives every lease back at its end; or a newer sender holds it
        await self.recorder.flush()
        try:
            await self._store.release_leases(self.worker_id, [sender.bot.id])
        except errors.DatabaseUnavailable as exc:
            log.warning("action=release_lease_failed bot=%s error=%s", sender.bot.name, exc)
        if self.senders.get(sender.bot.id) is sender:
            self.senders.pop(sender.bot.id)
            self._tasks.pop(sender.bot.id)
        self._lease_wake.set()  # a message may have come while it was ending

    def outbox(self, bot_id: int) -> None:
        """A message waits in a bot's outbox: its sender here claims it, or a lease is sought."""
        sender = self.senders.get(bot_id)
        if sender is not None and not self._tasks[bot_id].done():
            sender.wake()
        elif self._only_bots is None or bot_id in self._only_bots:
            self._lease_wake.set()

    def opted_out(self, bot_id: int, chat_id: int) -> None:
        sender = self.senders.get(bot_id)
        if sender is not None:
            sender.opted_out(chat_id)

    def reconnected(self) -> None:
        self._lease_wake.set()
        for sender in self.senders.values():
            sender.wake()

    def _forget(self, bot_id: int) -> None:
        """The lease is gone (expired, or no work left): stop sending for that bot."""
        sender = self.senders.pop(bot_id)
        sender.stop()
        self._tasks.pop(bot_id)

    async def _stop_senders(self) -> None:
        self._stopping = True
        for sender in self.senders.values():
            sender.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _release_leases(self) -> None:
        if not self.senders:
            return
        try:
            await self._store.release_leases(self.worker_id, list(self.senders))
        except errors.DatabaseUnavailable as exc:
            log.warning("action=release_leases_failed error=%s", exc)


async def _first_of(first: asyncio.Event, second: asyncio.Event, timeout_s: float) -> None:
    """Wait until either event is set, or timeout_s has passed."""
    waits = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
