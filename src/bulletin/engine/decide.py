"""From a classified Bot API outcome to the writes that record it: pure, no I/O."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import assert_never

from bulletin import models
from bulletin.telegram.outcome import Action, Outcome

Status = models.DeliveryStatus


Decision = models.DeliveryDecision


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0

    def backoff_s(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with equal jitter, so retries of many chats spread out."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def decide(
    outcome: Outcome, attempts_before: int, policy: RetryPolicy, rng: random.Random
) -> Decision:
    """What one answer means for the delivery, its chat, its run and its bot."""
    match outcome.action:
        case Action.RATE_LIMITED:
            return Decision(
                Status.PENDING,
                attempt_increment=0,
                delay_s=outcome.retry_after_s,
                event="delivery.rate_limited",
            )
        case Action.MIGRATED:
            return Decision(
                Status.PENDING,
                attempt_increment=0,
                migrate_to_chat_id=outcome.migrate_to_chat_id,
                event="subscriber.migrated",
            )
        case Action.RETRY:
            return _retry(attempts_before + 1, policy, rng)
        case (
            Action.SENT
            | Action.BLOCKED
            | Action.GONE
            | Action.NO_RIGHTS
            | Action.CONTENT_ERROR
            | Action.BOT_REVOKED
            | Action.REJECTED
        ):
            return _FIXED[outcome.action]
        case _:
            assert_never(outcome.action)


# Outcomes whose consequences do not depend on the delivery's history.
_FIXED: dict[Action, Decision] = {
    Action.SENT: Decision(Status.SENT),
    Action.BLOCKED: Decision(
        Status.FAILED,
        failure="blocked",
        subscriber_status=models.SubscriberStatus.BLOCKED,
        event="subscriber.blocked",
    ),
    Action.GONE: Decision(
        Status.FAILED,
        failure="gone",
        subscriber_status=models.SubscriberStatus.GONE,
        event="subscriber.gone",
    ),
    Action.NO_RIGHTS: Decision(
        Status.FAILED,
        failure="no_rights",
        subscriber_flag="bot has no rights to post",
        event="subscriber.flagged",
    ),
    # The same content fails for every chat: requeue and pause, do not burn the audience.
    Action.CONTENT_ERROR: Decision(
        Status.PENDING, attempt_increment=0, pause_run=True, event="run.paused"
    ),
    Action.BOT_REVOKED: Decision(
        Status.PENDING, attempt_increment=0, revoke_bot=True, event="bot.revoked"
    ),
    Action.REJECTED: Decision(Status.FAILED, failure="rejected", event="delivery.rejected"),
}


def _retry(attempt: int, policy: RetryPolicy, rng: random.Random) -> Decision:
    if attempt >= policy.max_attempts:
        return Decision(Status.FAILED, failure="retries_exhausted", event="delivery.exhausted")
    return Decision(Status.PENDING, delay_s=policy.backoff_s(attempt, rng), event="delivery.retry")
