"""A done run's tallies are kept once counted: read back the same, counted again after a forget."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from bulletin import config
from bulletin.app import audience, runs
from bulletin.db import runs as run_rows
from bulletin.sandbox import Sandbox, World
from tests.support import deliver, import_world, register_bot, start_campaign


async def shown(pool: asyncpg.Pool) -> runs.Status:
    return await runs.status(pool, "launch", 1)


async def test_status__done_run__tallies_kept_read_back_equal_and_recounted_after_forget(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = World.generate(200, blocked=0.1, gone=0.05, seed=5)
    sandbox_bot = world.add_bot(rate_per_s=600)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "main", 600)
        await import_world(pool, world, bot, tmp_path)
        run = await start_campaign(pool, bot, "launch")
        await deliver(pool, settings, [run.id])

    counted = await shown(pool)
    assert await pool.fetchval("SELECT count(*) FROM finished_run_tallies") == 1
    kept = await shown(pool)
    assert (kept.counts, kept.failures, kept.variants) == (
        counted.counts, counted.failures, counted.variants,
    )  # fmt: skip
    assert counted.counts.sent > 0
    assert counted.counts.blocked > 0

    sent_to = await pool.fetchval(
        "SELECT chat_id FROM deliveries WHERE run_id = $1 AND status = 'sent' LIMIT 1", run.id
    )
    await audience.forget(pool, sent_to, "main")
    assert await pool.fetchval("SELECT count(*) FROM finished_run_tallies") == 0
    recounted = await shown(pool)
    async with pool.acquire() as connection:
        live = await run_rows.counts(connection, run.id)
    assert recounted.counts == live
    assert recounted.counts.sent == counted.counts.sent - 1
