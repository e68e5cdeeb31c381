"""Pacing a bot just under Telegram's limits: one bot-wide rate, and per-chat spacing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bulletin import models

Clock = Callable[[], float]

# Telegram: about 1 message/s to one private chat, 20 messages/min to one group.
PRIVATE_CHAT_INTERVAL_S = 1.0
GROUP_CHAT_INTERVAL_S = 3.0


class Pacer:
    """A bot's send rate: an evenly spaced schedule (GCRA) that a 429 pauses and slows.

    After a 429 the rate drops multiplicatively and recovers slowly with each
    success, so a server stricter than the configured rate is met without a storm.
    """

    def __init__(
        self,
        rate_per_s: float,
        *,
        burst_s: float = 0.2,
        min_rate_per_s: float = 0.5,
        decrease_factor: float = 0.7,
        recovery_per_success: float = 0.002,
        clock: Clock = time.monotonic,
    ) -> None:
        self.configured_rate_per_s = rate_per_s
        self.rate_per_s = rate_per_s
        self._burst_s = burst_s
        self._min_rate_per_s = min(min_rate_per_s, rate_per_s)
        self._decrease_factor = decrease_factor
        self._recovery_per_success = recovery_per_success
        self._clock = clock
        self._next_slot = clock()
        self.paused_until = 0.0

    def reserve(self) -> float:
        """Book the next send slot; return how long to wait for it."""
        now = self._clock()
        slot = max(self._next_slot, now - self._burst_s, self.paused_until)
        self._next_slot = slot + 1.0 / self.rate_per_s
        return max(0.0, slot - now)

    async def acquire(self) -> None:
        """Wait for a send slot; a pause that starts while waiting is honoured too."""
        while True:
            delay_s = self.reserve()
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            if self._clock() >= self.paused_until:
                return

    def rate_limited(self, retry_after_s: float) -> float:
        """Telegram said 429: no sends until retry_after has passed, then a slower pace.

        Returns how much longer sends are now held than they already were: 429s of sends
        that were in flight together overlap, and their pauses are not added up.
        """
        now = self._clock()
        held_until = max(self.paused_until, now)
        self.paused_until = max(self.paused_until, now + retry_after_s)
        self._next_slot = max(self._next_slot, self.paused_until)
        self.rate_per_s = max(self._min_rate_per_s, self.rate_per_s * self._decrease_factor)
        return self.paused_until - held_until

    def pause_until(self, deadline: float) -> None:
        """Hold sends until deadline without changing the pace (a 429 seen by a sibling pacer)."""
        self.paused_until = max(self.paused_until, deadline)
        self._next_slot = max(self._next_slot, self.paused_until)

    def succeeded(self) -> None:
        if self.rate_per_s < self.configured_rate_per_s:
            step = self.configured_rate_per_s * self._recovery_per_success
            self.rate_per_s = min(self.configured_rate_per_s, self.rate_per_s + step)

    @property
    def paused(self) -> bool:
        return self._clock() < self.paused_until


class ChatPacer:
    """Spacing between messages to the same chat, across the runs of one bot."""

    def __init__(self, *, clock: Clock = time.monotonic, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._next_allowed: dict[int, float] = {}
        self._max_entries = max_entries

    def reserve(self, chat_id: int, chat_type: models.ChatType) -> float:
        """Book this chat's next slot; return how long to wait for it."""
        now = self._clock()
        if len(self._next_allowed) >= self._max_entries:
            self._forget_past(now)
        slot = max(now, self._next_allowed.get(chat_id, now))
        interval = (
            PRIVATE_CHAT_INTERVAL_S
            if chat_type is models.ChatType.PRIVATE
            else GROUP_CHAT_INTERVAL_S
        )
        self._next_allowed[chat_id] = slot + interval
        return slot - now

    def _forget_past(self, now: float) -> None:
        self._next_allowed = {
            chat: allowed for chat, allowed in self._next_allowed.items() if allowed > now
        }
