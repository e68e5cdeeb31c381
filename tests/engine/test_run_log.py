"""serve's run log against PostgreSQL: each change of a run logged once, by one of many processes."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg
import pytest

from bulletin.app import run_log
from bulletin.db import campaigns as campaign_rows
from bulletin.sandbox import Sandbox, World
from tests.support import import_world, register_bot, start_campaign


def actions_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == run_log.log.name]
    caplog.clear()
    return [line.split()[0] for line in lines]


async def test_log_changes__three_processes_race__each_change_logged_once(
    pool: asyncpg.Pool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=run_log.log.name)
    world = World.generate(10, seed=91)
    sandbox_bot = world.add_bot()
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "logged", 30)
        await import_world(pool, world, bot, tmp_path)
        await start_campaign(pool, bot, "logged")

    async def three_look() -> None:
        await asyncio.gather(*(run_log.log_changes(pool) for _ in range(3)))

    await three_look()
    assert actions_logged(caplog) == ["action=run_started"]
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, "logged")
        await campaign_rows.pause(connection, campaign, "held for a check")
    await three_look()
    paused = [r.getMessage() for r in caplog.records]
    assert actions_logged(caplog) == ["action=run_paused"]
    assert paused[0].endswith(" pending=10 rate_limited=0 reason=held for a check")
    await three_look()
    assert actions_logged(caplog) == []  # nothing changed: nothing logged
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, "logged")
        await campaign_rows.cancel(connection, campaign)
    await three_look()
    assert actions_logged(caplog) == ["action=run_finished"]

    # Each logged step is an event of the activity too, recorded once, with its bot.
    events = await pool.fetch("SELECT kind, bot_id, detail FROM events ORDER BY id")
    assert [(e["kind"], e["bot_id"]) for e in events] == [
        (kind, bot.id) for kind in ("run.started", "run.paused", "run.finished")
    ]
    assert [e["detail"] for e in events] == [
        "10 chats",
        "held for a check",
        "cancelled: 0 sent, 0 failed (0 blocked, 0 gone), 10 skipped, 0 uncertain",
    ]
