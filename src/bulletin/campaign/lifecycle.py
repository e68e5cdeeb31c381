"""The campaign lifecycle: which operator action each status allows, and what follows. No I/O.

The database enforces what must hold whatever the caller does (one unfinished run per
campaign, one run per schedule slot); this table is the one place that says which
action an operator may take from which status, and why not.

    draft ──start──► active ──last run finished, nothing scheduled──► done
      │                │ ▲                                              │
      │              pause│resume (also: a content error pauses)        │start (new chats,
      │                ▼ │                                              │ or --again)
      │              paused                                             ▼
      └────────── cancel (from any status but cancelled) ──────────► cancelled
"""

from __future__ import annotations

import enum

from bulletin import errors
from bulletin.campaign.spec import Schedule
from bulletin.models import CampaignStatus, Run

Status = CampaignStatus


class Action(enum.StrEnum):
    START = "start"  # a run now, or arming the schedule
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    DELETE = "delete"


# (status, action) -> the campaign's status afterwards; a missing pair is refused.
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.DRAFT, Action.START): Status.ACTIVE,
    (Status.ACTIVE, Action.START): Status.ACTIVE,
    (Status.DONE, Action.START): Status.ACTIVE,
    (Status.DRAFT, Action.PAUSE): Status.PAUSED,
    (Status.ACTIVE, Action.PAUSE): Status.PAUSED,
    (Status.PAUSED, Action.PAUSE): Status.PAUSED,
    (Status.PAUSED, Action.RESUME): Status.ACTIVE,
    (Status.ACTIVE, Action.RESUME): Status.ACTIVE,
    (Status.DRAFT, Action.CANCEL): Status.CANCELLED,
    (Status.ACTIVE, Action.CANCEL): Status.CANCELLED,
    (Status.PAUSED, Action.CANCEL): Status.CANCELLED,
    (Status.DONE, Action.CANCEL): Status.CANCELLED,
    (Status.DRAFT, Action.DELETE): Status.DRAFT,
    (Status.DONE, Action.DELETE): Status.DONE,
    (Status.CANCELLED, Action.DELETE): Status.CANCELLED,
    (Status.ACTIVE, Action.DELETE): Status.ACTIVE,  # only with no unfinished run
}

_REFUSALS: dict[tuple[Status, Action], str] = {
    (Status.PAUSED, Action.START): "is paused ({reason}); fix it and `bulletin campaign resume` it",
    (Status.PAUSED, Action.DELETE): "is paused with a run unfinished; cancel it first",
    (Status.CANCELLED, Action.START): "is cancelled",
    (Status.CANCELLED, Action.PAUSE): "is cancelled",
    (Status.CANCELLED, Action.RESUME): "is cancelled; it cannot resume",
    (Status.CANCELLED, Action.CANCEL): "is cancelled already",
    (Status.DRAFT, Action.RESUME): "has not started; `bulletin campaign start` it",
    (Status.DONE, Action.RESUME): "is done; `bulletin campaign start` runs it for new chats",
    (Status.DONE, Action.PAUSE): "is done; nothing is sending",
}


def transition(name: str, status: Status, action: Action, reason: str | None = None) -> Status:
    """The status after `action`, or NotAllowed naming the campaign and why."""
    following = TRANSITIONS.get((status, action))
    if following is None:
        why = _REFUSALS.get((status, action), f"is {status.value}; it cannot {action.value}")
        raise errors.NotAllowed(f"campaign {name!r} {why.format(reason=reason)}")
    return following


def recurring(schedule: Schedule) -> bool:
    """Every N minutes or by cron: each occurrence reaches the segment once."""
    return schedule.rule in ("every", "cron")


def reaches_only_new_chats(schedule: Schedule, *, again: bool) -> bool:
    """A one-shot campaign reaches a chat once, ever, unless the operator says `--again`."""
    return not again and not recurring(schedule)


def describe(run: Run) -> str:
    """ "running", or "paused: quiet hours"."""
    return f"{run.status.value}: {run.paused_reason}" if run.paused_reason else run.status.value


def unfinished_error(run: Run) -> errors.RunUnfinished:
    """Why a campaign with this unfinished run starts no other, and what to do instead."""
    name = run.campaign_name
    return errors.RunUnfinished(
        f"{run.label} is not finished ({describe(run)}); "
        f"`bulletin run {name}` continues it, `bulletin campaign cancel {name}` ends it"
    )
