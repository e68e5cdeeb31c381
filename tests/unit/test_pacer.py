"""Tests for bot-wide pacing (GCRA with 429 back-off) and per-chat spacing, on a fake clock."""

from __future__ import annotations

import itertools
import types
from collections.abc import Awaitable, Callable

import pytest

from bulletin import models
from bulletin.engine import pacer as pacer_module
from bulletin.engine.pacer import (
    GROUP_CHAT_INTERVAL_S,
    PRIVATE_CHAT_INTERVAL_S,
    ChatPacer,
    Pacer,
)

EPSILON = 1e-9


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def reserve_many(pacer: Pacer, count: int) -> list[float]:
    return [pacer.reserve() for _ in range(count)]


# ───────────────────────────── Pacer.reserve ─────────────────────────────


def test_reserve__fresh_pacer__first_slot_now_then_one_over_rate_apart(clock: FakeClock) -> None:
    pacer = Pacer(10.0, clock=clock)

    waits = reserve_many(pacer, 4)

    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3], abs=EPSILON)


def test_reserve__after_idle__burst_then_spaced(clock: FakeClock) -> None:
    pacer = Pacer(10.0, burst_s=0.2, clock=clock)
    pacer.reserve()
    clock.advance(60.0)

    waits = reserve_many(pacer, 6)

    # burst_s * rate = 2 extra slots are free, then one every 1/rate.
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.3], abs=EPSILON)


def test_reserve__clock_follows_the_slots__spacing_kept(clock: FakeClock) -> None:
    pacer = Pacer(4.0, burst_s=0.0, clock=clock)
    granted_at: list[float] = []

    for _ in range(5):
        clock.advance(pacer.reserve())
        granted_at.append(clock.now)

    gaps = [b - a for a, b in itertools.pairwise(granted_at)]
    assert gaps == pytest.approx([0.25] * 4)


def send_greedily(pacer: Pacer, clock: FakeClock, count: int) -> list[float]:
    """Send as soon as the pacer allows, `count` times; return when each send went out."""
    sent_at: list[float] = []
    for _ in range(count):
        clock.advance(pacer.reserve())
        sent_at.append(clock.now)
    return sent_at


def in_window(sent_at: list[float], start: float, length_s: float = 1.0) -> int:
    return sum(1 for t in sent_at if start - EPSILON <= t < start + length_s - EPSILON)


@pytest.mark.parametrize("idle_before_s", [0.0, 0.05, 3600.0])
def test_reserve__one_second_at_30_per_s__at_most_rate_plus_burst(
    clock: FakeClock, idle_before_s: float
) -> None:
    burst_s = 0.2
    pacer = Pacer(30.0, burst_s=burst_s, clock=clock)
    clock.advance(idle_before_s)
    start = clock.now

    sent_at = send_greedily(pacer, clock, 200)

    assert 30 <= in_window(sent_at, start) <= 30 + round(30 * burst_s)


def test_reserve__sustained_30_per_s__30_in_every_later_second(clock: FakeClock) -> None:
    pacer = Pacer(30.0, clock=clock)
    clock.advance(3600.0)
    start = clock.now

    sent_at = send_greedily(pacer, clock, 300)

    # After the first second (which may hold the burst) the pace is exactly the rate.
    assert [in_window(sent_at, start + 0.5 + second) for second in range(1, 8)] == [30] * 7


# ───────────────────────────── 429 and recovery ─────────────────────────────


def test_rate_limited__reservations_wait_for_the_pause(clock: FakeClock) -> None:
    pacer = Pacer(30.0, clock=clock)
    pacer.reserve()

    pacer.rate_limited(5)

    assert pacer.paused
    assert pacer.paused_until == clock.now + 5
    assert pacer.reserve() >= 5.0 - EPSILON


def test_rate_limited__after_the_pause__sends_again(clock: FakeClock) -> None:
    pacer = Pacer(30.0, clock=clock)
    pacer.rate_limited(5)

    clock.advance(4.9)
    assert pacer.paused
    assert pacer.reserve() == pytest.approx(0.1)

    clock.advance(10.0)
    assert not pacer.paused
    assert pacer.reserve() == 0.0


def test_rate_limited__later_shorter_429__keeps_the_longer_pause(clock: FakeClock) -> None:
    pacer = Pacer(30.0, clock=clock)

    pacer.rate_limited(10)
    pacer.rate_limited(2)

    assert pacer.paused_until == clock.now + 10
    assert pacer.reserve() >= 10.0 - EPSILON


def test_rate_limited__overlapping_429s__hold_time_counted_once(clock: FakeClock) -> None:
    pacer = Pacer(30.0, clock=clock)

    first = pacer.rate_limited(10)
    overlapped = pacer.rate_limited(2)  # a send in flight alongside: inside the first pause
    clock.advance(4)
    extended = pacer.rate_limited(8)  # 6 s left of the first pause: 2 s more

    assert first == 10.0
    assert overlapped == 0.0
    assert extended == pytest.approx(2.0)


def test_rate_limited__lowers_the_rate_multiplicatively(clock: FakeClock) -> None:
    pacer = Pacer(30.0, decrease_factor=0.5, clock=clock)

    pacer.rate_limited(1)
    assert pacer.rate_per_s == pytest.approx(15.0)
    pacer.rate_limited(1)
    assert pacer.rate_per_s == pytest.approx(7.5)
    assert pacer.configured_rate_per_s == 30.0


def test_rate_limited__slower_rate__wider_spacing_after_the_pause(clock: FakeClock) -> None:
    pacer = Pacer(10.0, decrease_factor=0.5, burst_s=0.0, clock=clock)

    pacer.rate_limited(1)
    waits = reserve_many(pacer, 3)

    assert waits == pytest.approx([1.0, 1.2, 1.4])


def test_rate_limited__many_times__floored_at_min_rate(clock: FakeClock) -> None:
    pacer = Pacer(30.0, min_rate_per_s=2.0, clock=clock)

    for _ in range(50):
        pacer.rate_limited(0)

    assert pacer.rate_per_s == 2.0


def test_rate_limited__configured_below_min__never_raised(clock: FakeClock) -> None:
    pacer = Pacer(0.2, min_rate_per_s=0.5, clock=clock)

    pacer.rate_limited(0)

    assert pacer.rate_per_s == 0.2


def test_succeeded__after_429__recovers_slowly(clock: FakeClock) -> None:
    pacer = Pacer(30.0, decrease_factor=0.7, recovery_per_success=0.002, clock=clock)
    pacer.rate_limited(0)
    lowered = pacer.rate_per_s

    pacer.succeeded()

    assert pacer.rate_per_s == pytest.approx(lowered + 30.0 * 0.002)
    for _ in range(10):
        pacer.succeeded()
    assert lowered < pacer.rate_per_s < 30.0


def test_succeeded__many__back_to_configured_and_never_above(clock: FakeClock) -> None:
    pacer = Pacer(30.0, clock=clock)
    for _ in range(3):
        pacer.rate_limited(0)

    for _ in range(10_000):
        pacer.succeeded()
        assert pacer.rate_per_s <= 30.0

    assert pacer.rate_per_s == 30.0


def test_succeeded__at_configured_rate__unchanged(clock: FakeClock) -> None:
    pacer = Pacer(30.0, clock=clock)

    pacer.succeeded()

    assert pacer.rate_per_s == 30.0


# ───────────────────────────── Pacer.acquire ─────────────────────────────

SleepHook = Callable[[float], None]


@pytest.fixture
def sleeps(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> Callable[[SleepHook | None], list[float]]:
    """Replace the module's asyncio.sleep with one that advances the fake clock.

    An optional hook runs halfway through each sleep (something else happening meanwhile).
    """

    def install(hook: SleepHook | None = None) -> list[float]:
        recorded: list[float] = []

        async def fake_sleep(delay: float) -> None:
            recorded.append(delay)
            clock.advance(delay / 2)
            if hook is not None:
                hook(delay)
            clock.advance(delay / 2)

        sleep: Callable[[float], Awaitable[None]] = fake_sleep
        monkeypatch.setattr(pacer_module, "asyncio", types.SimpleNamespace(sleep=sleep))
        return recorded

    return install


async def test_acquire__free_slot__no_sleep(
    clock: FakeClock, sleeps: Callable[[SleepHook | None], list[float]]
) -> None:
    recorded = sleeps(None)
    pacer = Pacer(30.0, clock=clock)

    await pacer.acquire()

    assert recorded == []


async def test_acquire__busy_slot__sleeps_until_it(
    clock: FakeClock, sleeps: Callable[[SleepHook | None], list[float]]
) -> None:
    recorded = sleeps(None)
    pacer = Pacer(10.0, clock=clock)
    start = clock.now
    pacer.reserve()

    await pacer.acquire()

    assert recorded == pytest.approx([0.1])
    assert clock.now == pytest.approx(start + 0.1)


async def test_acquire__already_paused__waits_out_the_pause(
    clock: FakeClock, sleeps: Callable[[SleepHook | None], list[float]]
) -> None:
    recorded = sleeps(None)
    pacer = Pacer(30.0, clock=clock)
    pacer.rate_limited(5)

    await pacer.acquire()

    assert sum(recorded) == pytest.approx(5.0)
    assert clock.now >= pacer.paused_until
    assert not pacer.paused


async def test_acquire__pause_begins_while_waiting__honoured(
    clock: FakeClock, sleeps: Callable[[SleepHook | None], list[float]]
) -> None:
    pacer = Pacer(10.0, clock=clock)
    start = clock.now
    hit: list[float] = []

    def another_send_gets_429(_delay: float) -> None:
        if not hit:
            hit.append(clock.now)
            pacer.rate_limited(5)

    recorded = sleeps(another_send_gets_429)
    pacer.reserve()

    await pacer.acquire()

    assert len(recorded) == 2
    assert hit == [pytest.approx(start + 0.05)]
    assert clock.now >= start + 0.05 + 5.0 - EPSILON
    assert not pacer.paused


# ───────────────────────────── ChatPacer ─────────────────────────────


def test_chat_pacer__private_chat__one_second_apart(clock: FakeClock) -> None:
    chats = ChatPacer(clock=clock)

    waits = [chats.reserve(42, models.ChatType.PRIVATE) for _ in range(3)]

    assert PRIVATE_CHAT_INTERVAL_S == 1.0
    assert waits == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("chat_type", [models.ChatType.GROUP, models.ChatType.SUPERGROUP])
def test_chat_pacer__group_chat__three_seconds_apart(
    clock: FakeClock, chat_type: models.ChatType
) -> None:
    chats = ChatPacer(clock=clock)

    waits = [chats.reserve(-100123, chat_type) for _ in range(3)]

    assert GROUP_CHAT_INTERVAL_S == 3.0
    assert waits == [0.0, 3.0, 6.0]


def test_chat_pacer__independent_chats__do_not_wait_for_each_other(clock: FakeClock) -> None:
    chats = ChatPacer(clock=clock)

    first = [chats.reserve(chat_id, models.ChatType.PRIVATE) for chat_id in range(1, 50)]
    group = chats.reserve(-5, models.ChatType.GROUP)

    assert first == [0.0] * 49
    assert group == 0.0
    assert chats.reserve(1, models.ChatType.PRIVATE) == 1.0


def test_chat_pacer__time_passed__waits_only_the_rest(clock: FakeClock) -> None:
    chats = ChatPacer(clock=clock)
    chats.reserve(7, models.ChatType.PRIVATE)

    clock.advance(0.25)
    assert chats.reserve(7, models.ChatType.PRIVATE) == pytest.approx(0.75)

    clock.advance(10.0)
    assert chats.reserve(7, models.ChatType.PRIVATE) == 0.0


def test_chat_pacer__full_table__forgets_only_past_entries(clock: FakeClock) -> None:
    chats = ChatPacer(clock=clock, max_entries=2)
    chats.reserve(1, models.ChatType.PRIVATE)  # allowed again at +1
    chats.reserve(-2, models.ChatType.GROUP)  # allowed again at +3
    clock.advance(2.0)

    chats.reserve(3, models.ChatType.PRIVATE)  # the table is full: prune

    assert chats.reserve(-2, models.ChatType.GROUP) == pytest.approx(1.0)
    assert chats.reserve(1, models.ChatType.PRIVATE) == 0.0
