"""The scheduler against real PostgreSQL, its clock driven by the test."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from bulletin import config
from bulletin.app.preflight import preflight
from bulletin.db import campaigns as campaign_rows
from bulletin.db.pool import open_pool
from bulletin.db.schedules import ScheduleStore
from bulletin.engine.scheduler import Scheduler
from bulletin.sandbox import Sandbox, World
from tests.support import apply_campaign, import_world, register_bot, running_worker, wait_for

RATE = 300.0
USERS = 30
T0 = datetime(2030, 5, 6, 10, 0, tzinfo=UTC)


def every_two_minutes(extra: str = "") -> str:
    return f"""
name: pulse
bot: news
content: {{text: "Tick for {{{{ first_name }}}}"}}
schedule:
  every: 2m
  max_runs: 3
{extra}"""


async def arm(pool: asyncpg.Pool, now: datetime) -> datetime:
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, "pulse")
        return await campaign_rows.arm(connection, campaign, now)


async def run_ids(pool: asyncpg.Pool) -> list[int]:
    return [row["id"] for row in await pool.fetch("SELECT id FROM runs ORDER BY id")]


async def all_runs_done(pool: asyncpg.Pool, count: int) -> None:
    await wait_for(
        pool, "SELECT count(*) = $1 FROM runs WHERE status = 'done'", count, timeout_s=30
    )


async def test_every_2m_max_3__three_runs_once_each_across_a_restart(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = World.generate(USERS, seed=31)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "news", RATE)
        await import_world(pool, world, bot, tmp_path)
        await apply_campaign(pool, every_two_minutes(), tmp_path)
        assert await arm(pool, T0) == T0

        # First "serve": a scheduler and a worker; the first slot is due at once.
        async with running_worker(pool, settings):
            first = Scheduler(ScheduleStore(pool, preflight))
            assert len(await first.tick(T0)) == 1
            assert await first.tick(T0 + timedelta(seconds=90)) == []
            await all_runs_done(pool, 1)

        # Restarted: a new scheduler finds the schedule where the last one left it. It
        # was down for 20 minutes: the missed slots start one run, not nine.
        async with running_worker(pool, settings):
            second = Scheduler(ScheduleStore(pool, preflight))
            assert len(await second.tick(T0 + timedelta(minutes=2))) == 1
            # The next occurrence waits while this one is unfinished: one at a time.
            assert await second.tick(T0 + timedelta(minutes=22)) == []
            await all_runs_done(pool, 2)
            assert len(await second.tick(T0 + timedelta(minutes=22))) == 1
            assert await second.tick(T0 + timedelta(minutes=40)) == []
            await all_runs_done(pool, 3)

        ids = await run_ids(pool)
        assert len(set(ids)) == 3
        reachable = {chat for chat, c in world.chats.items() if c.state == "reachable"}
        assert Counter(e.chat_id for e in sandbox.ledger) == Counter(
            {chat: 3 for chat in reachable}
        )
        slots = await pool.fetch("SELECT scheduled_for FROM runs ORDER BY id")
        assert [row["scheduled_for"] for row in slots] == [
            T0,
            T0 + timedelta(minutes=2),
            T0 + timedelta(minutes=4),
        ]
        assert await pool.fetchval("SELECT next_run_at FROM campaigns") is None


async def test_two_schedulers__racing_every_tick__never_start_a_slot_twice(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = World.generate(5, seed=32)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox, open_pool(settings, max_size=5) as other_pool:
        bot = await register_bot(pool, sandbox, sandbox_bot, "news", RATE)
        await import_world(pool, world, bot, tmp_path)
        await apply_campaign(pool, every_two_minutes(), tmp_path)
        await arm(pool, T0)
        schedulers = [
            Scheduler(ScheduleStore(pool, preflight)),
            Scheduler(ScheduleStore(other_pool, preflight)),
        ]

        for minute in range(0, 12):
            now = T0 + timedelta(minutes=minute)
            await asyncio.gather(*(scheduler.tick(now) for scheduler in schedulers))
            # As a worker would: each occurrence is finished before the next one is due.
            await pool.execute("UPDATE runs SET status = 'done' WHERE status = 'running'")

        rows = await pool.fetch("SELECT scheduled_for FROM runs ORDER BY id")
        assert [row["scheduled_for"] for row in rows] == [
            T0 + timedelta(minutes=m) for m in (0, 2, 4)
        ]


async def test_two_schedulers__running__one_leads_the_other_takes_over(
    settings: config.Settings,
) -> None:
    async with open_pool(settings, max_size=3) as one, open_pool(settings, max_size=3) as two:
        schedulers = [
            Scheduler(ScheduleStore(one, preflight), tick_s=0.05, retry_s=0.05),
            Scheduler(ScheduleStore(two, preflight), tick_s=0.05, retry_s=0.05),
        ]
        stops = [asyncio.Event(), asyncio.Event()]
        tasks = [
            asyncio.create_task(s.run(stop)) for s, stop in zip(schedulers, stops, strict=True)
        ]
        waits = [asyncio.create_task(s.led.wait()) for s in schedulers]
        async with asyncio.timeout(10):
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        leader = next(i for i, s in enumerate(schedulers) if s.leading)
        follower = 1 - leader
        assert not schedulers[follower].leading

        stops[leader].set()
        await tasks[leader]
        async with asyncio.timeout(10):
            await schedulers[follower].led.wait()
        assert schedulers[follower].leading
        stops[follower].set()
        await tasks[follower]
        for wait in waits:
            wait.cancel()


@pytest.mark.parametrize(
    ("local_time", "quiet"),
    [("23:30", True), ("07:59", True), ("08:00", False), ("12:00", False)],
)
async def test_quiet_hours__run_waits_then_goes_on(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path, local_time: str, quiet: bool
) -> None:
    world = World.generate(5, seed=33)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    hour, minute = map(int, local_time.split(":"))
    now = datetime(2030, 5, 6, hour, minute, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    quiet_hours = "  timezone: Europe/Berlin\n  quiet_hours: {start: '22:00', end: '08:00'}\n"
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "news", RATE)
        await import_world(pool, world, bot, tmp_path)
        await apply_campaign(pool, every_two_minutes(quiet_hours), tmp_path)
        await arm(pool, now)
        scheduler = Scheduler(ScheduleStore(pool, preflight))

        await scheduler.tick(now)

        status = await pool.fetchval("SELECT status FROM runs")
        assert status == ("paused" if quiet else "running")
        if quiet:
            await scheduler.tick(now + timedelta(hours=9))
            assert await pool.fetchval("SELECT status FROM runs ORDER BY id LIMIT 1") == "running"
