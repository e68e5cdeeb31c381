"""The dashboard's Activity page: recent events, newest first, each as a line a person reads.

Events are written where things happen: a run's lifecycle by serve's run log (run.started,
run.paused, run.resumed, run.finished), Telegram's answers by the worker (delivery.*,
bot.revoked, run.paused for a content error), subscribers' changes by the listener and the
audience commands (subscriber.*).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bulletin import errors
from bulletin.db import bots as bot_rows
from bulletin.db import dashboard as dashboard_rows
from bulletin.db.pool import Pool

PAGE = 50
LATEST = 2**63 - 1  # "before" of the first page: every id is below it
KIND = re.compile(r"^[a-z_]+\.[a-z_]+$")

# What each kind says, with {run}, {chat}, {bot} and {detail} filled in.
LINES = {
    "run.started": "{run} started: {detail}",
    "run.paused": "{run} paused: {detail}",
    "run.resumed": "{run} resumed",
    "run.finished": "{run} finished, {detail}",
    "bot.revoked": "bot {bot} revoked by Telegram (its token no longer works): {detail}",
    "delivery.rate_limited": "429 for {bot}, {run}, chat {chat}: {detail}",
    "delivery.retry": "{run}: chat {chat} will be tried again: {detail}",
    "delivery.exhausted": "{run}: chat {chat} failed after every retry: {detail}",
    "delivery.rejected": "{run}: Telegram rejected the message to chat {chat}: {detail}",
    "delivery.uncertain_after_crash": "{run}: chat {chat} left uncertain by a crashed worker",
    "delivery.pending_after_crash": "{run}: chat {chat} queued again after a crashed worker",
    "subscriber.subscribed": "chat {chat} subscribed to {bot} (source: {detail})",
    "subscriber.unsubscribed": "chat {chat} unsubscribed from {bot}",
    "subscriber.blocked": "chat {chat} blocked {bot}",
    "subscriber.unblocked": "chat {chat} unblocked {bot}",
    "subscriber.gone": "chat {chat} of {bot} is gone: {detail}",
    "subscriber.flagged": "chat {chat} of {bot} flagged: {detail}",
    "subscriber.rights": "{bot}'s rights in chat {chat} changed: {detail}",
    "subscriber.migrated": "chat {chat} of {bot} migrated: {detail}",
    "subscriber.resubscribed": "chat {chat} subscribed to {bot} again: {detail}",
    "subscriber.forgotten": "a chat of {bot} was forgotten",
}
# A run.paused with a chat is the worker's: a content error, which pauses the run.
CONTENT_ERROR = "content error in {run} (chat {chat}): {detail}; the run is paused"


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: datetime
    kind: str
    text: str
    campaign: str | None
    run_number: int | None


@dataclass(frozen=True, slots=True)
class ActivityPage:
    kind: str | None
    bot: str | None
    kinds: list[str]
    bots: list[str]
    events: list[Event]
    next_before: int | None  # the next page's `before`; None on the last page


def describe(row: dict[str, Any]) -> str:
    """One event as a line: 'run 3 of launch finished, done: 114 sent, …'."""
    run = (
        f"run {row['run_number']} of {row['campaign_name']}"
        if row["campaign_name"] is not None
        else ("a deleted run" if row["run_id"] is not None else "no run")
    )
    template = LINES.get(row["kind"], "{kind}: {detail}")
    if row["kind"] == "run.paused" and row["chat_id"] is not None:
        template = CONTENT_ERROR
    text = template.format(
        run=run,
        chat=row["chat_id"] if row["chat_id"] is not None else "—",
        bot=row["bot_name"] or "a removed bot",
        kind=row["kind"],
        detail=row["detail"] or "—",
    )
    return text[:1].upper() + text[1:]


def to_event(row: dict[str, Any]) -> Event:
    return Event(
        id=row["id"],
        at=row["at"],
        kind=row["kind"],
        text=describe(row),
        campaign=row["campaign_name"],
        run_number=row["run_number"],
    )


async def activity_page(
    pool: Pool, *, kind: str | None = None, bot: str | None = None, before: int = LATEST
) -> ActivityPage:
    """A page of events below id `before`, of one kind and one bot when given."""
    if kind is not None and not KIND.match(kind):
        raise errors.InputError(f"kind: {kind!r} is not an event kind (like run.finished)")
    async with pool.acquire() as connection:
        bot_id = (await bot_rows.find(connection, bot)).id if bot else None
        rows = await dashboard_rows.events(connection, kind, bot_id, before, PAGE + 1)
        kinds = await dashboard_rows.event_kinds(connection)
        bots = await dashboard_rows.bot_names(connection)
    shown = [to_event(row) for row in rows[:PAGE]]
    more = len(rows) > PAGE
    return ActivityPage(kind, bot, kinds, bots, shown, shown[-1].id if more else None)
