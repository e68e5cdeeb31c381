"""Telegram's flood limits: token buckets per bot and per chat, and the 429 penalty."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

PRIVATE_CHAT_RATE_PER_S = 1.0
PRIVATE_CHAT_CAPACITY = 3.0
GROUP_CHAT_RATE_PER_S = 20.0 / 60.0
GROUP_CHAT_CAPACITY = 20.0


class LimitKind(StrEnum):
    """Which limit a request went over."""

    BOT = "bot"
    PENALTY = "penalty"
    CHAT = "chat"


@dataclass(frozen=True)
class Refusal:
    """A request over a limit: answer 429 with retry_after seconds."""

    kind: LimitKind
    retry_after: int


class TokenBucket:
    """A token bucket that refills at rate_per_s up to capacity."""

    def __init__(self, rate_per_s: float, capacity: float, now: float) -> None:
        self.rate_per_s = rate_per_s
        self.capacity = capacity
        self._tokens = capacity
        self._updated = now

    def wait_s(self, now: float) -> float:
        """Return the seconds until one token is available (0 when one is)."""
        self._refill(now)
        return max(0.0, (1.0 - self._tokens) / self.rate_per_s)

    def take(self, now: float) -> None:
        """Spend one token."""
        self._refill(now)
        self._tokens -= 1.0

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate_per_s)
        self._updated = now


class Limiter:
    """Decides whether a send fits the bot and chat limits, spending tokens when it does."""

    def __init__(
        self, *, unlimited: bool = False, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.unlimited = unlimited
        self.clock = clock
        self._bot_buckets: dict[tuple[int, bool], TokenBucket] = {}
        self._chat_buckets: dict[tuple[int, int | str], TokenBucket] = {}
        self._penalty_until: dict[int, float] = {}

    def admit(
        self,
        bot_id: int,
        rate_per_s: float,
        chat_id: int | str,
        *,
        private: bool,
        paid: bool = False,
    ) -> Refusal | None:
        """Spend a bot token and a chat token, or refuse without spending either."""
        if self.unlimited:
            return None
        now = self.clock()
        until = self._penalty_until.get(bot_id, 0.0)
        if now < until:
            return Refusal(LimitKind.PENALTY, _seconds(until - now))
        bot_bucket = self._bot_bucket((bot_id, paid), rate_per_s, now)
        bot_wait_s = bot_bucket.wait_s(now)
        if bot_wait_s > 0:
            retry_after = _seconds(bot_wait_s)
            self._penalty_until[bot_id] = now + retry_after
            return Refusal(LimitKind.BOT, retry_after)
        chat_bucket = self._chat_bucket(bot_id, chat_id, now, private=private)
        chat_wait_s = chat_bucket.wait_s(now)
        if chat_wait_s > 0:
            return Refusal(LimitKind.CHAT, _seconds(chat_wait_s))
        bot_bucket.take(now)
        chat_bucket.take(now)
        return None

    def _bot_bucket(self, key: tuple[int, bool], rate_per_s: float, now: float) -> TokenBucket:
        # Paid and free sends draw from separate buckets; a changed rate starts a fresh one.
        bucket = self._bot_buckets.get(key)
        if bucket is None or bucket.rate_per_s != rate_per_s:
            bucket = TokenBucket(rate_per_s, max(1.0, rate_per_s), now)
            self._bot_buckets[key] = bucket
        return bucket

    def _chat_bucket(
        self, bot_id: int, chat_id: int | str, now: float, *, private: bool
    ) -> TokenBucket:
        key = (bot_id, chat_id)
        bucket = self._chat_buckets.get(key)
        if bucket is None:
            if private:
                bucket = TokenBucket(PRIVATE_CHAT_RATE_PER_S, PRIVATE_CHAT_CAPACITY, now)
            else:
                bucket = TokenBucket(GROUP_CHAT_RATE_PER_S, GROUP_CHAT_CAPACITY, now)
            self._chat_buckets[key] = bucket
        return bucket


def _seconds(wait_s: float) -> int:
    """Round a wait up to whole seconds, at least one, as Telegram does."""
    return max(1, math.ceil(wait_s - 1e-9))
