"""Opt-outs are final for campaigns: after an import, and during a run already in progress."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from bulletin import config
from bulletin.db import audience
from bulletin.sandbox import Sandbox, World
from tests.listener.conftest import GOODBYE, Setup, listening
from tests.support import (
    deliver,
    import_world,
    ledger_counts,
    register_bot,
    running_worker,
    start_campaign,
    wait_for,
)

CAMPAIGN_TEXT = "Spring sale"
RATE = 600.0  # 3,000 chats in about 5 s: fast for a test, still paced by the sandbox


@contextlib.asynccontextmanager
async def world_of(
    pool: asyncpg.Pool, settings: config.Settings, users: int, seed: int
) -> AsyncIterator[tuple[World, Setup]]:
    """A generated world served by the sandbox, its bot registered in bulletin."""
    world = World.generate(users, seed=seed)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, f"bot{seed}", RATE)
        yield world, Setup(sandbox, bot, pool, settings)


def campaign_messages(sandbox: Sandbox, chat_id: int) -> int:
    return sum(1 for e in sandbox.ledger if e.chat_id == chat_id and e.text == CAMPAIGN_TEXT)


async def test_stop_then_import__stays_unsubscribed_and_the_next_campaign_skips_them(
    pool: asyncpg.Pool, listener_settings: config.Settings, tmp_path: Path
) -> None:
    async with world_of(pool, listener_settings, 50, 21) as (world, setup):
        sandbox, bot = setup.sandbox, setup.bot
        person = next(iter(world.chats))
        async with listening(setup, "polling"):
            await setup.processed(sandbox.actions.stop(bot.id, person))

        assert await import_world(pool, world, bot, tmp_path) == 49  # one merged, not new
        assert await setup.status(person) == "unsubscribed"
        run = await start_campaign(pool, bot, "after-import", text=CAMPAIGN_TEXT)
        await deliver(pool, listener_settings, [run.id])

    assert run.audience == 49
    assert campaign_messages(sandbox, person) == 0
    assert setup.replies(person) == [GOODBYE]
    assert len(ledger_counts(sandbox)) == 50  # 49 campaign messages and the confirmation


async def test_stop_during_a_3000_chat_run__nothing_from_that_run(
    pool: asyncpg.Pool, listener_settings: config.Settings, tmp_path: Path
) -> None:
    async with world_of(pool, listener_settings, 3000, 22) as (world, setup):
        sandbox, bot = setup.sandbox, setup.bot
        await import_world(pool, world, bot, tmp_path)
        # The last chat in the run's order: its turn comes about 5 s after the start.
        last_chat = await pool.fetchval("SELECT chat_id FROM subscribers ORDER BY id DESC LIMIT 1")
        run = await start_campaign(pool, bot, "big", text=CAMPAIGN_TEXT)
        async with listening(setup, "polling"), running_worker(pool, listener_settings):
            await wait_for(
                pool, "SELECT count(*) >= 100 FROM deliveries WHERE status = 'sent'", timeout_s=60
            )
            await setup.processed(sandbox.actions.stop(bot.id, last_chat))
            sent_when_stopped = await pool.fetchval(
                "SELECT count(*) FROM deliveries WHERE status = 'sent'"
            )
            await wait_for(
                pool, "SELECT status = 'done' FROM runs WHERE id = $1", run.id, timeout_s=60
            )

    assert sent_when_stopped < 2900  # the opt-out came well before the chat's turn
    assert campaign_messages(sandbox, last_chat) == 0
    assert setup.replies(last_chat) == [GOODBYE]
    skipped = await pool.fetchrow(
        "SELECT status, failure FROM deliveries WHERE run_id = $1 AND chat_id = $2",
        run.id,
        last_chat,
    )
    assert skipped is not None
    assert (skipped["status"], skipped["failure"]) == ("skipped", "unsubscribed")
    assert sum(1 for e in sandbox.ledger if e.text == CAMPAIGN_TEXT) == 2999


async def test_forgotten_chat_sends_start__subscribed_again_without_the_old_data(
    pool: asyncpg.Pool, listener_settings: config.Settings, tmp_path: Path
) -> None:
    async with world_of(pool, listener_settings, 5, 23) as (world, setup):
        sandbox, bot = setup.sandbox, setup.bot
        person = next(iter(world.chats))
        await import_world(pool, world, bot, tmp_path)
        await pool.execute("UPDATE subscribers SET tags = '{vip}', fields = '{\"city\": \"Oslo\"}'")
        async with pool.acquire() as connection:
            await audience.forget(connection, bot.id, person)
        assert await import_world(pool, world, bot, tmp_path) == 0  # the tombstone holds
        assert await setup.status(person) is None

        async with listening(setup, "polling"):
            await setup.processed(sandbox.actions.start(bot.id, person, "back"))
        assert await import_world(pool, world, bot, tmp_path) == 0  # known again: merged

    row = await setup.subscriber(person)
    assert row is not None
    assert (row["status"], row["source"], row["tags"], row["fields"]) == (
        "subscribed", "back", [], "{}",
    )  # fmt: skip
    assert await pool.fetchval("SELECT count(*) FROM forgotten_chats") == 0
