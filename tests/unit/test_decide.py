"""Tests for the pure map from a classified outcome to the writes that record it."""

from __future__ import annotations

import itertools
import random

import pytest

from bulletin import models
from bulletin.engine.decide import Decision, RetryPolicy, decide
from bulletin.telegram.classify import Action, Outcome

POLICY = RetryPolicy(max_attempts=5, backoff_base_s=1.0, backoff_cap_s=300.0)


def decide_one(outcome: Outcome, attempts_before: int = 0, seed: int = 0) -> Decision:
    return decide(outcome, attempts_before, POLICY, random.Random(seed))


# ───────────────────────────── fixed outcomes ─────────────────────────────


def test_decide__sent__sent_one_attempt() -> None:
    decision = decide_one(Outcome(Action.SENT, message_id=7))

    assert decision == Decision(models.DeliveryStatus.SENT, attempt_increment=1)


def test_decide__rate_limited__pending_after_retry_after_without_attempt() -> None:
    decision = decide_one(Outcome(Action.RATE_LIMITED, "429", retry_after_s=5.0))

    assert decision.status is models.DeliveryStatus.PENDING
    assert decision.attempt_increment == 0
    assert decision.delay_s == 5.0
    assert decision.event == "delivery.rate_limited"
    assert decision.failure is None
    assert not decision.pause_run
    assert not decision.revoke_bot


def test_decide__rate_limited_at_max_attempts__still_pending() -> None:
    decision = decide_one(Outcome(Action.RATE_LIMITED, retry_after_s=1.0), attempts_before=99)

    assert decision.status is models.DeliveryStatus.PENDING


def test_decide__migrated__pending_to_new_chat_without_attempt() -> None:
    decision = decide_one(Outcome(Action.MIGRATED, migrate_to_chat_id=-100123))

    assert decision.status is models.DeliveryStatus.PENDING
    assert decision.attempt_increment == 0
    assert decision.migrate_to_chat_id == -100123
    assert decision.event == "subscriber.migrated"


def test_decide__blocked__failed_and_subscriber_blocked() -> None:
    decision = decide_one(Outcome(Action.BLOCKED, "Forbidden: bot was blocked by the user"))

    assert decision.status is models.DeliveryStatus.FAILED
    assert decision.failure == "blocked"
    assert decision.subscriber_status is models.SubscriberStatus.BLOCKED
    assert decision.event == "subscriber.blocked"
    assert decision.attempt_increment == 1


def test_decide__gone__failed_and_subscriber_gone() -> None:
    decision = decide_one(Outcome(Action.GONE, "Bad Request: chat not found"))

    assert decision.status is models.DeliveryStatus.FAILED
    assert decision.failure == "gone"
    assert decision.subscriber_status is models.SubscriberStatus.GONE
    assert decision.event == "subscriber.gone"


def test_decide__no_rights__failed_and_subscriber_flagged() -> None:
    decision = decide_one(Outcome(Action.NO_RIGHTS, "Bad Request: not enough rights"))

    assert decision.status is models.DeliveryStatus.FAILED
    assert decision.failure == "no_rights"
    assert decision.subscriber_status is None
    assert decision.subscriber_flag
    assert decision.event == "subscriber.flagged"


def test_decide__content_error__pending_and_run_paused_without_attempt() -> None:
    decision = decide_one(Outcome(Action.CONTENT_ERROR, "Bad Request: message is too long"))

    assert decision.status is models.DeliveryStatus.PENDING
    assert decision.attempt_increment == 0
    assert decision.pause_run
    assert not decision.revoke_bot
    assert decision.subscriber_status is None
    assert decision.event == "run.paused"


def test_decide__bot_revoked__pending_and_bot_revoked_without_attempt() -> None:
    decision = decide_one(Outcome(Action.BOT_REVOKED, "Unauthorized"))

    assert decision.status is models.DeliveryStatus.PENDING
    assert decision.attempt_increment == 0
    assert decision.revoke_bot
    assert not decision.pause_run
    assert decision.event == "bot.revoked"


def test_decide__rejected__failed_rejected() -> None:
    decision = decide_one(Outcome(Action.REJECTED, "Bad Request: something"))

    assert decision.status is models.DeliveryStatus.FAILED
    assert decision.failure == "rejected"
    assert decision.subscriber_status is None
    assert decision.event == "delivery.rejected"


@pytest.mark.parametrize("action", list(Action))
def test_decide__every_action__handled(action: Action) -> None:
    decision = decide_one(Outcome(action, retry_after_s=1.0, migrate_to_chat_id=-100123))

    assert isinstance(decision, Decision)
    assert decision.status in {
        models.DeliveryStatus.PENDING,
        models.DeliveryStatus.SENT,
        models.DeliveryStatus.FAILED,
    }
    assert decision.attempt_increment in {0, 1}


def test_decide__every_action__distinct_decisions() -> None:
    decisions = [
        decide_one(Outcome(action, retry_after_s=1.0, migrate_to_chat_id=-100123))
        for action in Action
    ]

    assert len(set(decisions)) == len(Action)


@pytest.mark.parametrize(
    "action", [Action.RATE_LIMITED, Action.MIGRATED, Action.CONTENT_ERROR, Action.BOT_REVOKED]
)
def test_decide__not_the_chats_fault__no_attempt_counted(action: Action) -> None:
    assert decide_one(Outcome(action, retry_after_s=1.0)).attempt_increment == 0


@pytest.mark.parametrize(
    "action", [Action.SENT, Action.BLOCKED, Action.GONE, Action.NO_RIGHTS, Action.REJECTED]
)
def test_decide__fixed_outcome__independent_of_history(action: Action) -> None:
    assert decide_one(Outcome(action), attempts_before=0) == decide_one(
        Outcome(action), attempts_before=4, seed=99
    )


# ───────────────────────────── retries ─────────────────────────────


@pytest.mark.parametrize("attempts_before", [0, 1, 2, 3])
def test_decide__retry_below_max__pending_with_backoff(attempts_before: int) -> None:
    decision = decide_one(Outcome(Action.RETRY, "TimeoutError"), attempts_before)

    attempt = attempts_before + 1
    ceiling = min(POLICY.backoff_cap_s, POLICY.backoff_base_s * 2 ** (attempt - 1))
    assert decision.status is models.DeliveryStatus.PENDING
    assert decision.attempt_increment == 1
    assert decision.failure is None
    assert decision.event == "delivery.retry"
    assert ceiling / 2 <= decision.delay_s <= ceiling


@pytest.mark.parametrize("attempts_before", [4, 5, 10])
def test_decide__retry_at_max__failed_retries_exhausted(attempts_before: int) -> None:
    decision = decide_one(Outcome(Action.RETRY, "TimeoutError"), attempts_before)

    assert decision.status is models.DeliveryStatus.FAILED
    assert decision.failure == "retries_exhausted"
    assert decision.attempt_increment == 1
    assert decision.event == "delivery.exhausted"


def test_decide__retry_with_one_max_attempt__first_failure_final() -> None:
    policy = RetryPolicy(max_attempts=1)

    decision = decide(Outcome(Action.RETRY), 0, policy, random.Random(0))

    assert decision.status is models.DeliveryStatus.FAILED


def test_decide__retry__same_seed_same_delay() -> None:
    first = decide_one(Outcome(Action.RETRY), attempts_before=2, seed=1234)
    second = decide_one(Outcome(Action.RETRY), attempts_before=2, seed=1234)

    assert first == second


def test_decide__retry__different_seeds_spread() -> None:
    delays = {
        decide_one(Outcome(Action.RETRY), attempts_before=2, seed=s).delay_s for s in range(20)
    }

    assert len(delays) > 1


# ───────────────────────────── backoff ─────────────────────────────


@pytest.mark.parametrize("attempt", range(1, 16))
def test_backoff__any_attempt__within_half_ceiling_and_ceiling(attempt: int) -> None:
    policy = RetryPolicy(backoff_base_s=0.5, backoff_cap_s=60.0)
    ceiling = min(60.0, 0.5 * 2 ** (attempt - 1))
    rng = random.Random(attempt)

    delays = [policy.backoff_s(attempt, rng) for _ in range(200)]

    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)


def test_backoff__rng_extremes__exactly_half_ceiling_and_ceiling() -> None:
    class Extreme(random.Random):
        def __init__(self, pick_high: bool) -> None:
            super().__init__(0)
            self.pick_high = pick_high

        def uniform(self, a: float, b: float) -> float:
            return b if self.pick_high else a

    policy = RetryPolicy(backoff_base_s=2.0, backoff_cap_s=300.0)

    assert policy.backoff_s(3, Extreme(pick_high=False)) == 4.0
    assert policy.backoff_s(3, Extreme(pick_high=True)) == 8.0


def test_backoff__successive_attempts__grow_exponentially() -> None:
    policy = RetryPolicy(backoff_base_s=1.0, backoff_cap_s=10_000.0)

    # Same seed per attempt: the jitter fraction is identical, so only the ceiling differs.
    delays = [policy.backoff_s(attempt, random.Random(7)) for attempt in range(1, 11)]

    for previous, current in itertools.pairwise(delays):
        assert current == pytest.approx(previous * 2)


def test_backoff__many_attempts__capped() -> None:
    policy = RetryPolicy(backoff_base_s=1.0, backoff_cap_s=30.0)
    rng = random.Random(3)

    delays = [policy.backoff_s(attempt, rng) for attempt in range(6, 101)]

    assert all(15.0 <= delay <= 30.0 for delay in delays)
    assert max(delays) > 25.0  # the cap is reached, not some lower ceiling


def test_backoff__attempt_zero_or_negative__base_ceiling() -> None:
    policy = RetryPolicy(backoff_base_s=4.0, backoff_cap_s=300.0)

    assert 2.0 <= policy.backoff_s(0, random.Random(0)) <= 4.0
    assert 2.0 <= policy.backoff_s(-3, random.Random(0)) <= 4.0


def test_backoff__seeded_rng__deterministic_sequence() -> None:
    first = [POLICY.backoff_s(a, random.Random(42)) for a in range(1, 8)]
    second = [POLICY.backoff_s(a, random.Random(42)) for a in range(1, 8)]

    assert first == second
