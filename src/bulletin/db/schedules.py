"""The scheduler's store: leadership, due campaigns, starting their runs, quiet hours."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from bulletin import models
from bulletin.campaign import schedule
from bulletin.campaign.spec import CampaignSpec, Schedule, Segment
from bulletin.db import campaigns as campaign_rows
from bulletin.db import runs as run_rows
from bulletin.db import subscribers as subscriber_rows
from bulletin.db.connection import Connection
from bulletin.db.pool import connection as pooled
from bulletin.db.queries import sql

LEADER_LOCK_KEY = 0x62756C73  # the advisory lock only the scheduling leader holds


@dataclass(frozen=True, slots=True)
class Started:
    """What starting a due campaign did: a run, or a pause with the check's reason."""

    campaign_id: int
    run: models.Run | None = None
    paused_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Leadership:
    connection: Connection

    async def confirm(self) -> None:
        """Raise a connection error if the lock's session is gone."""
        await self.connection.fetchval(sql("scheduler_heartbeat"))


# The pre-flight check a due campaign passes before its run starts: its problems, if any.
Preflight = Callable[[Connection, CampaignSpec], Awaitable[list[str]]]


class ScheduleStore:
    """Every query the scheduler runs; the pre-flight check is the application's, passed in."""

    def __init__(self, pool: asyncpg.Pool, preflight: Preflight) -> None:
        self._pool = pool
        self._preflight = preflight

    @contextlib.asynccontextmanager
    async def leadership(self) -> AsyncIterator[Leadership | None]:
        """Leadership while this process holds the lock, else None.

        The lock is a session lock: it is held as long as that connection lives, and a
        process that dies (or loses its connection) hands leadership on at once.
        """
        async with pooled(self._pool) as connection:
            if not await connection.fetchval(sql("try_scheduler_lock"), LEADER_LOCK_KEY):
                yield None
                return
            try:
                yield Leadership(connection)
            finally:
                with contextlib.suppress(asyncpg.PostgresError, OSError):
                    await connection.execute(sql("scheduler_unlock"), LEADER_LOCK_KEY)

    async def due(self, now: datetime) -> list[int]:
        async with pooled(self._pool) as connection:
            return [row["id"] for row in await connection.fetch(sql("due_campaigns"), now)]

    async def start_due(self, campaign_id: int, now: datetime) -> Started | None:
        """Start the campaign's due run and move its schedule on, in one transaction."""
        async with pooled(self._pool) as connection, connection.transaction():
            row = await connection.fetchrow(sql("lock_due_campaign"), campaign_id, now)
            if row is None:
                return None  # another scheduler has it, or it is no longer due
            if await connection.fetchval(sql("unfinished_run"), campaign_id) is not None:
                # The last occurrence is still sending: this one waits its turn, due, and
                # starts once that run is finished (one unfinished run per campaign).
                return None
            design = await campaign_rows.design(connection, campaign_id)
            problems = await self._preflight(connection, design.spec)
            if problems:
                reason = f"pre-flight check failed: {problems[0]}"
                await connection.execute(sql("pause_campaign"), campaign_id, reason)
                return Started(campaign_id, paused_reason=reason)
            campaign = await campaign_rows.find(connection, design.spec.name)
            run = await run_rows.start(connection, campaign, scheduled_for=row["next_run_at"])
            quiet_until = schedule.quiet_until(design.spec.schedule, now)
            if quiet_until is not None:  # the run waits from the start, not from the next tick
                await connection.execute(sql("quiet_runs"), campaign_id, quiet_until)
            started = await connection.fetchval(sql("scheduled_run_count"), campaign_id)
            following = schedule.next_slot(design.spec.schedule, row["next_run_at"], now, started)
            await connection.execute(sql("set_next_run"), campaign_id, following)
            return Started(campaign_id, run=run)

    async def hold_quiet_runs(self, now: datetime) -> tuple[list[int], list[int]]:
        """Pause running runs in their quiet hours, wake the ones whose quiet hours ended."""
        quieted: list[int] = []
        woken: list[int] = []
        async with pooled(self._pool) as connection:
            for row in await connection.fetch(sql("quiet_campaigns")):
                rules = Schedule.model_validate(json.loads(row["schedule"]))
                until = schedule.quiet_until(rules, now)
                if until is not None:
                    rows = await connection.fetch(sql("quiet_runs"), row["id"], until)
                    quieted += [r["id"] for r in rows]
                else:
                    rows = await connection.fetch(sql("wake_runs"), row["id"], now)
                    woken += [r["id"] for r in rows]
        return quieted, woken


async def recipients(
    connection: Connection,
    bot_ids: list[int],
    segment: Segment,
    limit: int,
    per_run_cap: int | None,
    campaign_id: int | None,
    only_new: bool,
) -> tuple[int, list[models.Recipient]]:
    """How many chats of the bots' segment a run would reach now, and the first `limit` of them."""
    rows = await connection.fetch(
        sql("sample_recipients"),
        bot_ids,
        *campaign_rows.segment_filters(segment),
        limit,
        per_run_cap,
        campaign_id,
        only_new,
    )
    audience = rows[0]["audience"] if rows else 0
    return audience, [subscriber_rows.to_recipient(row) for row in rows]
