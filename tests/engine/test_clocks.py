"""One clock decides what is due: a worker whose wall clock is off still honours retry_after."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import asyncpg
import pytest

from bulletin.db import runs as run_rows
from bulletin.sandbox import Sandbox, World
from tests.support import import_world, ledger_counts, register_bot, start_campaign, wait_for

CLOCK_AHEAD = Path(__file__).parent / "clock_ahead"  # a sitecustomize that shifts the clock


@pytest.mark.slow
async def test_worker__clock_5_minutes_ahead__retries_after_429_neither_early_nor_late(
    pool: asyncpg.Pool, cli_env: dict[str, str], tmp_path: Path
) -> None:
    world = World.generate(150, seed=73)
    # Telegram allows 50/s, the bot is set to 100/s: 429s with retry_after, requeued rows.
    sandbox_bot = world.add_bot(rate_per_s=50)
    # One send at a time: a send already on the wire when a 429 arrives is not a send the
    # worker started inside the window, and this test asks only about the ones it starts.
    env = {
        **cli_env,
        "PYTHONPATH": str(CLOCK_AHEAD),
        "BULLETIN_TEST_CLOCK_SHIFT_S": "300",
        "BULLETIN_WORKER__MAX_IN_FLIGHT": "1",
    }
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "ahead", 100)
        await import_world(pool, world, bot, tmp_path)
        run = await start_campaign(pool, bot, "ahead")
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bulletin", "worker",
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            # At 50/s the run takes a few seconds; rows due 5 minutes late would never make it.
            await wait_for(
                pool, "SELECT status = 'done' FROM runs WHERE id = $1", run.id, timeout_s=60
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                _, err = await worker.communicate()
        async with pool.acquire() as connection:
            counts = await run_rows.counts(connection, run.id)
        future_sends = await pool.fetchval(
            "SELECT count(*) FROM deliveries WHERE run_id = $1 AND sent_at > clock_timestamp()",
            run.id,
        )
    assert worker.returncode == 0, err.decode()
    assert sandbox.stats.too_many_requests > 0, "the bot was never told to wait"
    assert sandbox.stats.requests_during_retry_after == 0, "a send inside retry_after"
    assert set(ledger_counts(sandbox).values()) == {1}
    assert counts.sent == 150
    assert future_sends == 0, "sent_at on the worker's clock, not the database's"
