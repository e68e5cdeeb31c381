"""A template bomb stored in the database, past every check: its run pauses, nothing else does."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from bulletin import config, models
from bulletin.sandbox import Sandbox, World
from tests.engine.test_serve_processes import start_serve, stop_serve
from tests.support import (
    import_world,
    ledger_counts,
    register_bot,
    running_worker,
    start_campaign,
    wait_for,
)
from tests.unit.test_template_budget import BOMBS

RATE = 200.0
USERS = 30
# The bombs of issue 15, finding 1.
LISTED = [
    "nested range",
    "namespace doubling",
    "percent width",
    "center",
    "ljust",
    "format filter",
    "indent",
    "lipsum",
    "fan-out macro",
    "shallow fan-out macro",
    "self-recursive macro",
]
PAUSED = """
SELECT status = 'paused' AND paused_reason LIKE '%over the rendering budget%'
  FROM runs WHERE id = $1
"""
DONE = "SELECT status = 'done' FROM runs WHERE id = $1"


async def two_bots_one_bombed(
    pool: asyncpg.Pool, sandbox: Sandbox, world: World, tmp_path: Path, bomb: str
) -> tuple[models.Run, models.Run]:
    """A run whose stored variant is the bomb (bypassing apply and check) and a sound one."""
    runs = []
    for sandbox_bot, name in zip(world.bots.values(), ("bombed", "news"), strict=True):
        bot = await register_bot(pool, sandbox, sandbox_bot, name, RATE)
        await import_world(pool, world, bot, tmp_path)
        runs.append(await start_campaign(pool, bot, name, text="Hello {{ first_name }}"))
    await pool.execute(
        "UPDATE variants SET text = $1 WHERE campaign_id = $2", f"Hi {bomb}", runs[0].campaign_id
    )
    return runs[0], runs[1]


async def assert_settled(pool: asyncpg.Pool, bombed: models.Run, news: models.Run) -> None:
    rows = await pool.fetch(
        "SELECT DISTINCT status FROM deliveries WHERE run_id = ANY($1::bigint[])",
        [bombed.id, news.id],
    )
    statuses = {row["status"] for row in rows}
    assert "uncertain" not in statuses
    assert "sent" in statuses


@pytest.mark.parametrize("name", LISTED)
async def test_worker__bomb_stored__its_run_paused_and_other_bot_delivered(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path, name: str
) -> None:
    world = World.generate(USERS, seed=15)
    world.add_bot(rate_per_s=RATE)
    news_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bombed, news = await two_bots_one_bombed(pool, sandbox, world, tmp_path, BOMBS[name])

        async with running_worker(pool, settings):
            await wait_for(pool, PAUSED, bombed.id, timeout_s=5)
            await wait_for(pool, DONE, news.id)

    reachable = {chat.id for chat in world.chats.values() if chat.state == "reachable"}
    assert set(ledger_counts(sandbox, news_bot.id)) == reachable
    assert not any(entry.text.startswith("Hi") for entry in sandbox.ledger)
    await assert_settled(pool, bombed, news)


async def test_serve__fan_out_bomb_stored__paused_other_bot_delivered_sigterm_stops(
    pool: asyncpg.Pool, cli_env: dict[str, str], tmp_path: Path
) -> None:
    world = World.generate(USERS, seed=16)
    world.add_bot(rate_per_s=RATE)
    world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bombed, news = await two_bots_one_bombed(
            pool, sandbox, world, tmp_path, BOMBS["shallow fan-out macro"]
        )
        serve = await start_serve(cli_env, 1)
        try:
            await wait_for(pool, PAUSED, bombed.id, timeout_s=60)
            await wait_for(pool, DONE, news.id)
        finally:
            code, err = await stop_serve(serve)  # within 10 s

    assert code == 0, err
    assert "Traceback" not in err
    await assert_settled(pool, bombed, news)
