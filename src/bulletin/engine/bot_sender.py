"""One leased bot: claim its due deliveries, pace them, send them, hand results to the recorder."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections import deque
from datetime import UTC, datetime

from bulletin import errors, models
from bulletin.config import WorkerSettings
from bulletin.content import render
from bulletin.db.pool import TRANSIENT_ERRORS, retrying
from bulletin.engine.decide import RetryPolicy, decide
from bulletin.engine.pacer import ChatPacer, Pacer
from bulletin.engine.ports import Sender, Store
from bulletin.engine.recorder import Recorder
from bulletin.telegram.classify import Action, Outcome

log = logging.getLogger(__name__)

# Claim about this many seconds of sending at a time: rows claimed but not yet sent
# when a worker dies become "uncertain", so the claim window bounds that number.
CLAIM_HORIZON_S = 0.25

# Claim tokens, unique among this process's claims (and a worker id names one process):
# an outcome or a release names the claim it belongs to, never a later one of its row.
_CLAIM_TOKENS = itertools.count(1)

# Releasing unsent rows is tried this many times (0.1 s, then 0.2 s apart): a stopping
# worker has a few seconds to drain (SIGTERM), and a short database blip should not turn
# unsent messages into uncertain ones.
RELEASE_TRIES = 3


class BotSender:
    """Sends one bot's deliveries at its pace until stopped, its lease lost or its token revoked."""

    def __init__(
        self,
        bot: models.Bot,
        *,
        store: Store,
        sender: Sender,
        recorder: Recorder,
        settings: WorkerSettings,
        worker_id: str,
    ) -> None:
        self.bot = bot
        self._lost_claim: int | None = None  # the token of a claim that failed
        self._store = store
        self._sender = sender
        self._recorder = recorder
        self._settings = settings
        self._worker_id = worker_id
        self.pacer = Pacer(bot.rate_per_s)
        self.paid_pacer = Pacer(bot.paid_rate_per_s)
        self._paid_batch = bot.paid_broadcast
        self._chat_pacer = ChatPacer()
        self._policy = RetryPolicy(
            settings.max_attempts, settings.backoff_base_s, settings.backoff_cap_s
        )
        self._rng = random.Random()
        self._in_flight = asyncio.Semaphore(settings.max_in_flight)
        self._paused_runs: set[int] = set()
        self._stop = asyncio.Event()
        self.revoked = False
        self.sent = 0

    def stop(self) -> None:
        self._stop.set()

    def update(self, bot: models.Bot) -> None:
        """Take a changed rate from the database (`bulletin bot set`) without a restart."""
        if bot.rate_per_s != self.bot.rate_per_s:
            self.pacer = Pacer(bot.rate_per_s)
        if bot.paid_rate_per_s != self.bot.paid_rate_per_s:
            self.paid_pacer = Pacer(bot.paid_rate_per_s)
        self.bot = bot

    @property
    def claim_limit(self) -> int:
        """About CLAIM_HORIZON_S of sending at the pace the last batch needed."""
        rate = self.bot.paid_rate_per_s if self._paid_batch else self.bot.rate_per_s
        return max(1, min(self._settings.batch_size, round(rate * CLAIM_HORIZON_S)))

    def _pacer_for(self, delivery: models.Delivery) -> Pacer:
        return self.paid_pacer if delivery.paid else self.pacer

    async def run(self) -> None:
        """Claim and send until stopped; in-flight sends finish before this returns."""
        async with asyncio.TaskGroup() as sends:
            batch = await self._claim()
            while not self._stopped:
                if batch is None:
                    await self._idle()
                    batch = await self._claim()
                    continue
                # Claim the next batch while this one goes out: the pipe never waits on a query.
                upcoming = asyncio.create_task(self._claim())
                await self._send_batch(deque(batch), sends)
                batch = await upcoming
            if batch:
                await self._release(batch)
        await self._sender.close()

    @property
    def _stopped(self) -> bool:
        return self._stop.is_set() or self.revoked

    async def _claim(self) -> list[models.Delivery] | None:
        if self._lost_claim is not None and not await self._release_lost_claim(self._lost_claim):
            return None
        claim_id = next(_CLAIM_TOKENS)
        try:
            claimed, skipped_runs = await self._store.claim(
                self.bot.id, self._worker_id, self.claim_limit, claim_id
            )
        except TRANSIENT_ERRORS as exc:
            # The claim may have committed with its answer lost: its rows would stay
            # `sending` under this worker for good. Its token finds them.
            log.warning("action=claim_failed bot=%s error=%s", self.bot.name, exc)
            self._lost_claim = claim_id
            return None
        if skipped_runs:
            self._recorder.check_runs(skipped_runs)
        self._paid_batch = self.bot.paid_broadcast or any(d.paid for d in claimed)
        return claimed or None

    async def _release_lost_claim(self, claim_id: int) -> bool:
        """Put back what a failed claim may have claimed; False while the database is away."""
        try:
            lost = await self._store.release_lost_claim(self.bot.id, self._worker_id, claim_id)
        except TRANSIENT_ERRORS as exc:
            log.warning("action=release_lost_claim_failed bot=%s error=%s", self.bot.name, exc)
            return False
        self._lost_claim = None
        if lost:
            log.warning("action=lost_claims_released bot=%s deliveries=%d", self.bot.name, lost)
        return True

    async def _idle(self) -> None:
        try:
            async with asyncio.timeout(self._settings.poll_interval_s):
                await self._stop.wait()
        except TimeoutError:
            pass

    async def _send_batch(self, batch: deque[models.Delivery], sends: asyncio.TaskGroup) -> None:
        while batch and not self._stopped:
            delivery = batch.popleft()
            if delivery.run_id in self._paused_runs:
                await self._release([delivery])
                continue
            wait_s = self._chat_pacer.reserve(delivery.chat_id, delivery.chat_type)
            if wait_s > 0:
                sends.create_task(self._send_later(delivery, wait_s))
                continue
            await self._pacer_for(delivery).acquire()
            await self._in_flight.acquire()
            sends.create_task(self._send(delivery))
        if batch:
            await self._release(list(batch))

    async def _send_later(self, delivery: models.Delivery, wait_s: float) -> None:
        await asyncio.sleep(wait_s)
        if self._stopped or delivery.run_id in self._paused_runs:
            await self._release([delivery])
            return
        await self._pacer_for(delivery).acquire()
        await self._in_flight.acquire()
        await self._send(delivery)

    async def _send(self, delivery: models.Delivery) -> None:
        try:
            outcome = await self._send_rendered(delivery)
        finally:
            self._in_flight.release()
        self._react(delivery, outcome)
        self._recorder.add(self._result(delivery, outcome))

    async def _send_rendered(self, delivery: models.Delivery) -> Outcome:
        # The variant is rendered for its subscriber here, just before sending. Values are escaped, so a message that does not render or parse is the template's
        # fault and pauses the run; one made too long by this subscriber's fields fails alone.
        try:
            message = render.message(delivery.template, delivery.recipient)
        except errors.MessageTooLong as exc:
            return Outcome(Action.REJECTED, str(exc))
        except errors.ContentError as exc:
            return Outcome(Action.CONTENT_ERROR, str(exc))
        return await self._sender.send(delivery.chat_id, message, paid=delivery.paid)

    def _react(self, delivery: models.Delivery, outcome: Outcome) -> None:
        """What this process changes at once, before the outcome is even written."""
        match outcome.action:
            case Action.SENT:
                self.sent += 1
                self._pacer_for(delivery).succeeded()
            case Action.RATE_LIMITED:
                log.warning(
                    "action=rate_limited bot=%s retry_after_s=%s",
                    self.bot.name,
                    outcome.retry_after_s,
                )
                # A 429 pauses the whole bot; only the pace that tripped it slows down.
                self._pacer_for(delivery).rate_limited(outcome.retry_after_s)
                other = self.pacer if delivery.paid else self.paid_pacer
                other.pause_until(self._pacer_for(delivery).paused_until)
            case Action.BOT_REVOKED:
                log.error("action=bot_revoked bot=%s", self.bot.name)
                self.revoked = True
            case Action.CONTENT_ERROR:
                log.error(
                    "action=run_paused run=%s reason=%s", delivery.run_id, outcome.description
                )
                self._paused_runs.add(delivery.run_id)
            case _:
                pass

    def _result(self, delivery: models.Delivery, outcome: Outcome) -> models.DeliveryResult:
        decision = decide(outcome, delivery.attempts, self._policy, self._rng)
        error = None if outcome.action is Action.SENT else outcome.description
        return models.DeliveryResult(
            delivery_id=delivery.id,
            claim_id=delivery.claim_id,
            run_id=delivery.run_id,
            bot_id=delivery.bot_id,
            chat_id=delivery.chat_id,
            status=decision.status,
            answered_at=datetime.now(UTC),
            message_id=outcome.message_id,
            failure=decision.failure,
            error=error,
            attempt_increment=decision.attempt_increment,
            delay_s=decision.delay_s,
            subscriber_status=decision.subscriber_status,
            subscriber_flag=decision.subscriber_flag,
            event=decision.event,
            pause_run=decision.pause_run,
            revoke_bot=decision.revoke_bot,
            migrate_to_chat_id=decision.migrate_to_chat_id,
        )

    async def _release(self, deliveries: list[models.Delivery]) -> None:
        """Give back claimed rows never handed to Telegram (a paused run, a stop).

        Tried a few times: rows left `sending` would be settled as uncertain by the next
        lease holder, and by default not sent at all, though they never were.
        """
        claims = [(delivery.id, delivery.claim_id) for delivery in deliveries]
        try:
            await retrying(
                lambda: self._store.release_claims(self._worker_id, claims),
                what="release_claims",
                tries=RELEASE_TRIES,
            )
        except TRANSIENT_ERRORS as exc:
            log.warning("action=release_failed deliveries=%d error=%s", len(claims), exc)
