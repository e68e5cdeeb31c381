"""One leased bot: claim its due deliveries, pace them, send them, hand results to the recorder."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable

from bulletin import errors, models
from bulletin.config import WorkerSettings
from bulletin.content import render
from bulletin.engine.decide import RetryPolicy, decide
from bulletin.engine.pacer import ChatPacer, Pacer
from bulletin.engine.ports import Observer, Sender, Store, Unobserved
from bulletin.engine.recorder import Recorder
from bulletin.retries import retrying
from bulletin.telegram.outcome import Action, Outcome

log = logging.getLogger(__name__)

# Claim about this many seconds of sending at a time: rows claimed but not yet sent
# when a worker dies become "uncertain", so the claim window bounds that number.
CLAIM_HORIZON_S = 0.25

# Rows are marked as handed over to Telegram about this many seconds of sending at a time,
# just before they are sent: after a kill, rows claimed but not handed over go back to
# pending, so at most this window (and the sends in flight) is left uncertain.
HANDOVER_HORIZON_S = 0.1

# Claim tokens, unique among this process's claims (and a worker id names one process):
# an outcome or a release names the claim it belongs to, never a later one of its row.
_CLAIM_TOKENS = itertools.count(1)

# Releasing unsent rows is tried this many times (0.1 s, then 0.2 s apart): a stopping
# worker has a few seconds to drain (SIGTERM), and a short database blip should not turn
# unsent messages into uncertain ones.
RELEASE_TRIES = 3

# The outbox is claimed when a notification says a message is waiting, and also this often
# in case one was missed (a LISTEN connection lost, a process without one).
OUTBOX_RECHECK_S = 2.0

# Outcomes that sending the same message again cannot change: a reply fails instead.
_FINAL_FOR_OUTBOX = frozenset({Action.CONTENT_ERROR, Action.MIGRATED})


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
        outbox_only: bool = False,
        observer: Observer | None = None,
    ) -> None:
        self.bot = bot
        self._observer = observer or Unobserved()
        self._reported_pace = (0.0, 0.0)
        self._outbox_only = outbox_only
        self._outbox_check_at = 0.0  # monotonic time the outbox is next claimed from
        self._wake = asyncio.Event()
        # chat id -> the last claim token issued when its opt-out was learnt: rows of that
        # claim or an earlier one may predate the opt-out; later claims re-checked consent.
        self._opted_out: dict[int, int] = {}
        self._last_claim_id = 0
        self._lost_claim: int | None = None  # the token of a claim that failed
        self._handed: set[int] = set()  # ids marked as handed over, not yet sent
        self._unreleased: list[tuple[int, int]] = []  # claims a failed release left `sending`
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
        self._wake.set()

    def wake(self) -> None:
        """A message waits in this bot's outbox: claim it before the next deliveries."""
        self._outbox_check_at = 0.0
        self._wake.set()

    def opted_out(self, chat_id: int) -> None:
        """The chat opted out: nothing claimed for it so far is handed to Telegram."""
        self._opted_out[chat_id] = self._last_claim_id

    def update(self, bot: models.Bot) -> None:
        """Take a changed rate from the database (`bulletin bot set`) without a restart."""
        if bot.rate_per_s != self.bot.rate_per_s:
            self.pacer = Pacer(bot.rate_per_s)
        if bot.paid_rate_per_s != self.bot.paid_rate_per_s:
            self.paid_pacer = Pacer(bot.paid_rate_per_s)
        self.bot = bot
        self._report_pace()

    @property
    def claim_limit(self) -> int:
        """About CLAIM_HORIZON_S of sending at the pace the last batch needed."""
        rate = self.bot.paid_rate_per_s if self._paid_batch else self.bot.rate_per_s
        return max(1, min(self._settings.batch_size, round(rate * CLAIM_HORIZON_S)))

    @property
    def handover_limit(self) -> int:
        """About HANDOVER_HORIZON_S of sending: how many rows one hand-over mark covers."""
        rate = self.bot.paid_rate_per_s if self._paid_batch else self.bot.rate_per_s
        return max(1, min(self._settings.batch_size, round(rate * HANDOVER_HORIZON_S)))

    def _pacer_for(self, delivery: models.Delivery) -> Pacer:
        return self.paid_pacer if delivery.paid else self.pacer

    async def run(self) -> None:
        """Claim and send until stopped; in-flight sends finish before this returns.

        An outbox-only sender (of a process that is no worker) returns once the outbox is empty.
        """
        self._report_pace()
        try:
            async with asyncio.TaskGroup() as sends:
                if self._outbox_only:
                    while not self._stopped and await self._send_outbox(sends):
                        pass
                else:
                    await self._send_all(sends)
        finally:
            self._observer.paced(self.bot.name, 0.0, 0.0)  # whoever sends next reports
        await self._sender.close()

    def _report_pace(self) -> None:
        """The pace, when it changed (after a 429, while it recovers, at `bot set`)."""
        pace = (self.pacer.rate_per_s, self.pacer.configured_rate_per_s)
        if pace != self._reported_pace:
            self._reported_pace = pace
            self._observer.paced(self.bot.name, *pace)

    async def _timed_send(
        self, chat_id: int, message: models.Message, *, paid: bool = False
    ) -> Outcome:
        """One Bot API send call, its duration reported."""
        started = time.perf_counter()
        outcome = await self._sender.send(chat_id, message, paid=paid)
        self._observer.send_answered(self.bot.name, time.perf_counter() - started)
        return outcome

    async def _send_all(self, sends: asyncio.TaskGroup) -> None:
        batch = await self._claim()
        while not self._stopped:
            # Replies first: between two batches, whatever the outbox holds goes ahead.
            await self._send_outbox(sends)
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

    @property
    def _stopped(self) -> bool:
        return self._stop.is_set() or self.revoked

    async def _claim(self) -> list[models.Delivery] | None:
        if self._lost_claim is not None and not await self._release_lost_claim(self._lost_claim):
            return None
        if self._unreleased and not await self._release_unreleased():
            return None
        claim_id = self._last_claim_id = next(_CLAIM_TOKENS)
        try:
            claimed, skipped_runs = await self._store.claim(
                self.bot.id, self._worker_id, self.claim_limit, claim_id
            )
        except errors.DatabaseUnavailable as exc:
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
        except errors.DatabaseUnavailable as exc:
            log.warning("action=release_lost_claim_failed bot=%s error=%s", self.bot.name, exc)
            return False
        self._lost_claim = None
        if lost:
            log.warning("action=lost_claims_released bot=%s deliveries=%d", self.bot.name, lost)
        return True

    async def _release_unreleased(self) -> bool:
        """Put back rows a failed release left `sending`; False while the database is away."""
        claims, self._unreleased = self._unreleased, []
        try:
            await self._store.release_claims(self._worker_id, claims)
        except errors.DatabaseUnavailable as exc:
            log.warning("action=release_claims_failed bot=%s error=%s", self.bot.name, exc)
            self._unreleased[:0] = claims
            return False
        return True

    async def _idle(self) -> None:
        """Wait for the next poll, a stop, or a message in the outbox."""
        try:
            async with asyncio.timeout(self._settings.poll_interval_s):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    async def _send_batch(self, batch: deque[models.Delivery], sends: asyncio.TaskGroup) -> None:
        while batch and not self._stopped:
            delivery = batch.popleft()
            if self._drop_if_opted_out(delivery):
                continue
            if delivery.run_id in self._paused_runs:
                await self._release([delivery])
                continue
            wait_s = self._chat_pacer.reserve(delivery.chat_id, delivery.chat_type)
            if wait_s > 0:
                sends.create_task(self._send_later(delivery, wait_s))
                continue
            await self._pacer_for(delivery).acquire()
            await self._in_flight.acquire()
            handed = await self._hand_over(delivery, batch)
            if handed is None:  # the database is away: nothing more is sent from this batch
                self._in_flight.release()
                batch.appendleft(delivery)
                break
            if handed:
                sends.create_task(self._send(delivery))
            else:
                self._in_flight.release()
        if batch:
            await self._release(list(batch))

    async def _hand_over(
        self, delivery: models.Delivery, batch: deque[models.Delivery]
    ) -> bool | None:
        """Mark the delivery (and the next few, about HANDOVER_HORIZON_S of sending) as handed
        to Telegram before it is sent: True to send it, False if it is no longer this claim's
        (a new lease holder settled it), None if the mark could not be written.

        Only a marked row is ever sent, so one left `sending` and unmarked surely was not.
        """
        if delivery.id in self._handed:
            self._handed.discard(delivery.id)
            return True
        group = [delivery]
        for upcoming in itertools.islice(batch, self.handover_limit - 1):
            if upcoming.run_id not in self._paused_runs:
                group.append(upcoming)
        claims = [(d.id, d.claim_id) for d in group]
        try:
            handed = await retrying(
                lambda: self._store.hand_over(self._worker_id, claims),
                what="hand_over",
                tries=RELEASE_TRIES,
            )
        except errors.DatabaseUnavailable as exc:
            log.warning("action=hand_over_failed bot=%s error=%s", self.bot.name, exc)
            return None
        self._handed.update(handed - {delivery.id})
        return delivery.id in handed

    async def _send_later(self, delivery: models.Delivery, wait_s: float) -> None:
        await asyncio.sleep(wait_s)
        if self._drop_if_opted_out(delivery):
            return
        if self._stopped or delivery.run_id in self._paused_runs:
            await self._release([delivery])
            return
        await self._pacer_for(delivery).acquire()
        await self._in_flight.acquire()
        handed = await self._hand_over(delivery, deque())
        if not handed:
            self._in_flight.release()
            if handed is None:
                await self._release([delivery])
            return
        await self._send(delivery)

    async def _send(self, delivery: models.Delivery) -> None:
        try:
            # The last look before Telegram: an opt-out learnt while this waited for its slot.
            if self._drop_if_opted_out(delivery):
                return
            outcome = await self._send_rendered(delivery)
        finally:
            self._in_flight.release()
        decision = decide(outcome, delivery.attempts, self._policy, self._rng)
        self._react(outcome, decision, paid=delivery.paid, run_id=delivery.run_id)
        self._recorder.add(self._result(delivery, outcome, decision))

    async def _send_rendered(self, delivery: models.Delivery) -> Outcome:
        # The variant is rendered for its subscriber here, just before sending. Values are escaped, so a message that does not render or parse is the template's
        # fault and pauses the run; one made too long by this subscriber's fields fails alone.
        try:
            message = render.message(delivery.template, delivery.recipient)
        except errors.MessageTooLong as exc:
            return Outcome(Action.REJECTED, str(exc))
        except errors.ContentError as exc:
            return Outcome(Action.CONTENT_ERROR, str(exc))
        return await self._timed_send(delivery.chat_id, message, paid=delivery.paid)

    def _react(
        self,
        outcome: Outcome,
        decision: models.DeliveryDecision,
        *,
        paid: bool,
        run_id: int | None = None,
    ) -> None:
        """What this process changes at once, before the outcome is even written: what
        decide() said about the run and the bot, and the pace, which follows every answer
        (a campaign's or a reply's alike)."""
        if decision.pause_run and run_id is not None:
            log.error("action=content_error run_id=%s reason=%s", run_id, outcome.description)
            self._paused_runs.add(run_id)
        if decision.revoke_bot:
            log.error("action=bot_revoked bot=%s", self.bot.name)
            self.revoked = True
        pacer = self.paid_pacer if paid else self.pacer
        match outcome.action:
            case Action.SENT:
                self.sent += 1
                pacer.succeeded()
            case Action.RATE_LIMITED:
                log.warning(
                    "action=rate_limited bot=%s retry_after_s=%s",
                    self.bot.name,
                    outcome.retry_after_s,
                )
                # A 429 pauses the whole bot; only the pace that tripped it slows down.
                paused_s = pacer.rate_limited(outcome.retry_after_s)
                other = self.pacer if paid else self.paid_pacer
                other.pause_until(pacer.paused_until)
                self._observer.rate_limited(self.bot.name, paused_s)
            case _:
                pass
        self._report_pace()

    def _drop_if_opted_out(self, delivery: models.Delivery) -> bool:
        """Record as skipped a delivery claimed before its chat opted out; True if it was."""
        learnt_at_claim = self._opted_out.get(delivery.chat_id)
        if learnt_at_claim is None or delivery.claim_id > learnt_at_claim:
            return False
        self._handed.discard(delivery.id)
        self._recorder.add(
            models.DeliveryResult(
                delivery_id=delivery.id,
                claim_id=delivery.claim_id,
                run_id=delivery.run_id,
                bot_id=delivery.bot_id,
                chat_id=delivery.chat_id,
                decision=models.DeliveryDecision(
                    models.DeliveryStatus.SKIPPED, attempt_increment=0
                ),
                answered_s=time.monotonic(),
                error="opted out after the delivery was claimed",
            )
        )
        return True

    def _result(
        self, delivery: models.Delivery, outcome: Outcome, decision: models.DeliveryDecision
    ) -> models.DeliveryResult:
        return models.DeliveryResult(
            delivery_id=delivery.id,
            claim_id=delivery.claim_id,
            run_id=delivery.run_id,
            bot_id=delivery.bot_id,
            chat_id=delivery.chat_id,
            decision=decision,
            answered_s=time.monotonic(),
            message_id=outcome.message_id,
            error=None if outcome.action is Action.SENT else outcome.description,
        )

    async def _release(self, deliveries: list[models.Delivery]) -> None:
        """Give back claimed rows never handed to Telegram (a paused run, a stop).

        Tried a few times: rows left `sending` would be settled as uncertain by the next
        lease holder, and by default not sent at all, though they never were.
        """
        claims = [(delivery.id, delivery.claim_id) for delivery in deliveries]
        self._handed.difference_update(delivery.id for delivery in deliveries)
        if not await _released(
            lambda: self._store.release_claims(self._worker_id, claims), "release_claims"
        ):
            # Retried before the next claim; if this worker stops first, the next lease
            # holder finds them never handed over and puts them back itself.
            self._unreleased += claims

    async def _send_outbox(self, sends: asyncio.TaskGroup) -> bool:
        """Claim the outbox's due messages and send them paced; False when it had none."""
        if self._stopped or time.monotonic() < self._outbox_check_at:
            return False
        messages = await self._claim_outbox()
        if not messages:
            self._outbox_check_at = time.monotonic() + OUTBOX_RECHECK_S
            return False
        pending = deque(messages)
        while pending and not self._stopped:
            message = pending.popleft()
            chat_type = models.ChatType.from_chat_id(message.chat_id)
            wait_s = self._chat_pacer.reserve(message.chat_id, chat_type)
            if wait_s > 0:
                sends.create_task(self._send_message_later(message, wait_s))
                continue
            # Slots are taken here, in turn, before the next deliveries' are.
            await self.pacer.acquire()
            await self._in_flight.acquire()
            sends.create_task(self._send_message(message))
        if pending:
            await self._release_outbox(list(pending))
        return True

    async def _claim_outbox(self) -> list[models.OutboxMessage]:
        if self._lost_claim is not None:
            return []  # _claim puts the lost claim back first
        claim_id = next(_CLAIM_TOKENS)
        try:
            return await self._store.claim_outbox(
                self.bot.id, self._worker_id, self.claim_limit, claim_id
            )
        except errors.DatabaseUnavailable as exc:
            log.warning("action=claim_outbox_failed bot=%s error=%s", self.bot.name, exc)
            self._lost_claim = claim_id
            return []

    async def _send_message_later(self, message: models.OutboxMessage, wait_s: float) -> None:
        """One outbox message after its chat's spacing, in the bot's next slot."""
        await asyncio.sleep(wait_s)
        if self._stopped:
            await self._release_outbox([message])
            return
        await self.pacer.acquire()
        await self._in_flight.acquire()
        await self._send_message(message)

    async def _send_message(self, message: models.OutboxMessage) -> None:
        try:
            outcome = await self._timed_send(message.chat_id, message.message)
        finally:
            self._in_flight.release()
        decision = decide(outcome, message.attempts, self._policy, self._rng)
        self._react(outcome, decision, paid=False)
        result = self._outbox_result(message, outcome, decision)
        if result.status is models.OutboxStatus.PENDING:
            retry_at = time.monotonic() + result.delay_s
            self._outbox_check_at = min(self._outbox_check_at, retry_at)
        self._recorder.add_outbox(result)

    def _outbox_result(
        self, message: models.OutboxMessage, outcome: Outcome, decision: models.DeliveryDecision
    ) -> models.OutboxResult:
        status = {
            models.DeliveryStatus.SENT: models.OutboxStatus.SENT,
            models.DeliveryStatus.PENDING: models.OutboxStatus.PENDING,
        }.get(decision.status, models.OutboxStatus.FAILED)
        if outcome.action in _FINAL_FOR_OUTBOX:
            status = models.OutboxStatus.FAILED
        return models.OutboxResult(
            outbox_id=message.id,
            claim_id=message.claim_id,
            status=status,
            answered_s=time.monotonic(),
            message_id=outcome.message_id,
            error=None if outcome.action is Action.SENT else outcome.description,
            attempt_increment=decision.attempt_increment,
            delay_s=decision.delay_s,
        )

    async def _release_outbox(self, messages: list[models.OutboxMessage]) -> None:
        claims = [(message.id, message.claim_id) for message in messages]
        await _released(
            lambda: self._store.release_outbox(self._worker_id, claims), "release_outbox"
        )


async def _released(release: Callable[[], Awaitable[None]], what: str) -> bool:
    """Give claimed rows back, tried a few times; logged, not raised, when the database is
    away (then False)."""
    try:
        await retrying(release, what=what, tries=RELEASE_TRIES)
    except errors.DatabaseUnavailable as exc:
        log.warning("action=%s_failed error=%s", what, exc)
        return False
    return True
