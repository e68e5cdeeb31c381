"""`serve`'s log of runs: one line when a run starts, pauses, resumes or finishes, with counts,
and the same step recorded as an event (run.started, run.paused, run.resumed, run.finished)
for the dashboard's activity.

Every serve process looks each second; the database hands each change to one of them
(runs.logged_status, claimed with SKIP LOCKED), so a line is written once however many
workers serve, whichever process made the change (the CLI, the API, the scheduler, a worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bulletin import errors, models
from bulletin.db import runs as run_rows
from bulletin.db.pool import Pool
from bulletin.db.pool import connection as pooled

log = logging.getLogger(__name__)

CHECK_S = 1.0


def actions(previous: str | None, status: models.RunStatus) -> list[str]:
    """What to log of a run whose status was last logged as `previous` (None: never)."""
    found = ["run_started"] if previous is None else []
    match status:
        case models.RunStatus.RUNNING if previous == models.RunStatus.PAUSED.value:
            found.append("run_resumed")
        case models.RunStatus.PAUSED:
            found.append("run_paused")
        case models.RunStatus.DONE | models.RunStatus.CANCELLED:
            found.append("run_finished")
        case _:
            pass
    return found


def line(action: str, run: models.Run, counts: models.RunCounts) -> str:
    """One log line: the house's key=value fields, the free-text reason last."""
    fields = (
        f"action={action} campaign={run.campaign_name} run={run.number} run_id={run.id} "
        f"status={run.status.value} audience={run.audience} sent={counts.sent} "
        f"failed={counts.failed} blocked={counts.blocked} gone={counts.gone} "
        f"skipped={counts.skipped} uncertain={counts.uncertain} "
        f"pending={counts.pending + counts.sending} rate_limited={counts.rate_limited}"
    )
    if action == "run_paused" and run.paused_reason:
        return f"{fields} reason={run.paused_reason}"
    return fields


def event(action: str, run: models.Run, counts: models.RunCounts, bot_id: int) -> run_rows.RunEvent:
    """The activity's record of one logged action: run_started becomes run.started."""
    kind = "run." + action.removeprefix("run_")
    match action:
        case "run_started":
            return run_rows.RunEvent(kind, bot_id, run.id, run.started_at, f"{run.audience} chats")
        case "run_finished":
            detail = (
                f"{run.status.value}: {counts.sent} sent, {counts.failed} failed "
                f"({counts.blocked} blocked, {counts.gone} gone), {counts.skipped} skipped, "
                f"{counts.uncertain} uncertain"
            )
            return run_rows.RunEvent(kind, bot_id, run.id, run.finished_at, detail)
        case _:
            reason = run.paused_reason if action == "run_paused" else None
            return run_rows.RunEvent(kind, bot_id, run.id, None, reason)


async def log_changes(pool: Pool) -> int:
    """Log every run change no process has logged yet, and record it as an event; how many
    runs changed. The claim and the events commit together; the lines are logged after."""
    lines: list[str] = []
    async with pooled(pool) as connection, connection.transaction():
        changes = await run_rows.claim_changes(connection)
        events: list[run_rows.RunEvent] = []
        for change in changes:
            counts = await run_rows.counts(connection, change.run.id)
            for action in actions(change.previous, change.run.status):
                lines.append(line(action, change.run, counts))
                events.append(event(action, change.run, counts, change.bot_id))
        await run_rows.add_events(connection, events)
    for text in lines:
        log.info("%s", text)
    return len(changes)


async def follow(pool: Pool, stop: asyncio.Event, check_s: float = CHECK_S) -> None:
    """Log run changes until stop, and those made up to it."""
    while True:
        try:
            await log_changes(pool)
        except errors.DatabaseUnavailable as exc:
            log.warning("action=run_log_failed error=%s", exc)
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(check_s):
                await stop.wait()
