"""The limiter: token buckets, the retry_after it asks for, and the penalty."""

from __future__ import annotations

from bulletin.sandbox.limits import Limiter, LimitKind, Refusal, TokenBucket
from tests.sandbox.conftest import FakeClock


def test_token_bucket__empty__waits_for_one_token() -> None:
    bucket = TokenBucket(rate_per_s=2.0, capacity=2.0, now=0.0)
    bucket.take(0.0)
    bucket.take(0.0)
    assert bucket.wait_s(0.0) == 0.5
    assert bucket.wait_s(0.5) == 0.0


def test_admit__bot_burst_spent__429_then_penalty(clock: FakeClock) -> None:
    limiter = Limiter(clock=clock)
    admitted = [limiter.admit(1, 30.0, 1000 + n, private=True) for n in range(30)]
    assert admitted == [None] * 30
    assert limiter.admit(1, 30.0, 2000, private=True) == Refusal(LimitKind.BOT, 1)
    clock.advance(0.5)
    assert limiter.admit(1, 30.0, 2000, private=True) == Refusal(LimitKind.PENALTY, 1)
    clock.advance(0.5)
    assert limiter.admit(1, 30.0, 2000, private=True) is None


def test_admit__private_chat__three_then_one_per_second(clock: FakeClock) -> None:
    limiter = Limiter(clock=clock)
    assert [limiter.admit(1, 30.0, 5, private=True) for _ in range(3)] == [None] * 3
    assert limiter.admit(1, 30.0, 5, private=True) == Refusal(LimitKind.CHAT, 1)
    clock.advance(1.0)
    assert limiter.admit(1, 30.0, 5, private=True) is None


def test_admit__group_chat__twenty_per_minute(clock: FakeClock) -> None:
    limiter = Limiter(clock=clock)
    assert [limiter.admit(1, 1000.0, -5, private=False) for _ in range(20)] == [None] * 20
    assert limiter.admit(1, 1000.0, -5, private=False) == Refusal(LimitKind.CHAT, 3)


def test_admit__chat_refusal__spends_no_bot_token(clock: FakeClock) -> None:
    limiter = Limiter(clock=clock)
    for _ in range(3):
        limiter.admit(1, 3.0, 5, private=True)
    assert limiter.admit(1, 3.0, 6, private=True) == Refusal(LimitKind.BOT, 1)


def test_admit__paid__own_bucket(clock: FakeClock) -> None:
    limiter = Limiter(clock=clock)
    assert limiter.admit(1, 1.0, 5, private=True) is None
    assert limiter.admit(1, 1000.0, 6, private=True, paid=True) is None
    assert limiter.admit(1, 1.0, 7, private=True) == Refusal(LimitKind.BOT, 1)


def test_admit__unlimited__never_refuses(clock: FakeClock) -> None:
    limiter = Limiter(unlimited=True, clock=clock)
    assert all(limiter.admit(1, 1.0, 5, private=True) is None for _ in range(100))
