"""A run delivered through the sandbox: exactly once, at pace, with every answer classified."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from bulletin import config, errors, models
from bulletin.db import runs as run_rows
from bulletin.sandbox import Faults, Sandbox, World
from tests.support import (
    deliver,
    import_world,
    ledger_counts,
    make_worker,
    register_bot,
    running_worker,
    start_campaign,
    wait_for,
)

RATE = 600.0  # fast enough for a test, still enforced by the sandbox


async def statuses(pool: asyncpg.Pool, bot_id: int) -> dict[int, str]:
    rows = await pool.fetch("SELECT chat_id, status FROM subscribers WHERE bot_id = $1", bot_id)
    return {row["chat_id"]: row["status"] for row in rows}


async def test_run__3000_subscribers__each_reachable_chat_once_and_dead_chats_marked(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = World.generate(3000, blocked=0.05, gone=0.01, seed=3)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "main", RATE)
        assert await import_world(pool, world, bot, tmp_path) == 3000
        run = await start_campaign(pool, bot, "launch")
        assert run.audience == 3000

        await deliver(pool, settings, [run.id])

        reachable = {c.id for c in world.chats.values() if c.state == "reachable"}
        sent_to = ledger_counts(sandbox)
        assert set(sent_to) == reachable
        assert max(sent_to.values()) == 1
        assert sandbox.stats.requests_during_retry_after == 0
        marked = await statuses(pool, bot.id)
        blocked = [chat for chat, status in marked.items() if status == "blocked"]
        gone = [chat for chat, status in marked.items() if status == "gone"]
        assert len(blocked) == 150
        assert len(gone) == 30
        async with pool.acquire() as connection:
            counts = await run_rows.counts(connection, run.id)
            finished = await run_rows.get(connection, run.id)
        assert (counts.sent, counts.blocked, counts.gone) == (2820, 150, 30)
        assert finished.status is models.RunStatus.DONE

        errors_before = sum(sandbox.stats.errors.values())
        second = await start_campaign(pool, bot, "follow-up")
        assert second.audience == 2820
        await deliver(pool, settings, [second.id])
        assert sum(sandbox.stats.errors.values()) == errors_before
        assert set(ledger_counts(sandbox).values()) == {2}


async def test_run__server_stricter_than_configured_rate__slows_down_and_honours_retry_after(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = World.generate(400, seed=4)
    sandbox_bot = world.add_bot(rate_per_s=100)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "eager", 200)
        await import_world(pool, world, bot, tmp_path)
        run = await start_campaign(pool, bot, "eager")

        await deliver(pool, settings, [run.id])

        assert sandbox.stats.bot_limit_429 >= 1
        assert set(ledger_counts(sandbox).values()) == {1}
        assert len(ledger_counts(sandbox)) == 400
        async with pool.acquire() as connection:
            counts = await run_rows.counts(connection, run.id)
        assert counts.sent == 400
        assert counts.rate_limited == sandbox.stats.too_many_requests


async def test_run__5xx_faults__retried_until_sent_or_failed_with_reason(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = World.generate(500, seed=5)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world, faults=Faults(error_rate=0.3, seed=5)) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "flaky", RATE)
        await import_world(pool, world, bot, tmp_path)
        run = await start_campaign(pool, bot, "flaky")

        await deliver(pool, settings, [run.id])

        async with pool.acquire() as connection:
            counts = await run_rows.counts(connection, run.id)
            failures = await run_rows.failures(connection, run.id)
        assert counts.sent + counts.failed == 500
        assert counts.retried > 0
        assert counts.sent == len(ledger_counts(sandbox))
        assert set(ledger_counts(sandbox).values()) == {1}
        # 0.3 ** 5 of 500: a few deliveries exhaust their attempts, each named.
        assert all(reason == "retries_exhausted" for reason, _, _ in failures)
        assert sum(n for _, _, n in failures) == counts.failed


async def test_run__content_error__pauses_the_campaign_without_burning_the_audience(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = World.generate(200, seed=6)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "content", RATE)
        await import_world(pool, world, bot, tmp_path)
        run = await start_campaign(pool, bot, "broken", text="<b>unclosed")

        async with running_worker(pool, settings):
            await wait_for(pool, "SELECT status = 'paused' FROM runs WHERE id = $1", run.id)

        async with pool.acquire() as connection:
            counts = await run_rows.counts(connection, run.id)
            paused = await run_rows.get(connection, run.id)
        assert counts.failed == 0
        assert counts.pending == 200
        assert paused.paused_reason is not None
        assert "can't parse entities" in paused.paused_reason
        assert len(sandbox.ledger) == 0
        campaign_status = await pool.fetchval("SELECT status FROM campaigns WHERE name = 'broken'")
        assert campaign_status == "paused"


async def test_run__token_revoked__bot_marked_and_deliveries_left_pending(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = World.generate(100, seed=7)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "doomed", RATE)
        await import_world(pool, world, bot, tmp_path)
        run = await start_campaign(pool, bot, "doomed")
        world.revoke_bot(sandbox_bot.id)

        worker = make_worker(pool, settings, asyncio.Event(), set(), set())
        with pytest.raises(errors.NothingToDo, match="doomed"):
            async with asyncio.timeout(30):
                await worker.run(asyncio.Event())

        assert await pool.fetchval("SELECT status FROM bots WHERE id = $1", bot.id) == "revoked"
        async with pool.acquire() as connection:
            counts = await run_rows.counts(connection, run.id)
        assert counts.pending == 100
        assert counts.failed == 0
        assert len(sandbox.ledger) == 0


async def test_run__group_migrated__subscriber_moved_and_message_resent_there(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = World.generate(20, seed=8)
    old_group = -4001
    new_group = -1001234567890
    world.set_chat(new_group, "supergroup", "reachable")
    world.set_chat(old_group, "group", "migrated", migrate_to=new_group)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "groups", RATE)
        (tmp_path / "extra.csv").write_text(f"chat_id\n{old_group}\n")
        await import_world(pool, world, bot, tmp_path)
        await pool.execute(
            "INSERT INTO subscribers (bot_id, chat_id, chat_type) VALUES ($1, $2, 'group')",
            bot.id,
            old_group,
        )
        run = await start_campaign(pool, bot, "groups")

        await deliver(pool, settings, [run.id])

        assert ledger_counts(sandbox)[new_group] == 1
        assert ledger_counts(sandbox)[old_group] == 0
        chats = await statuses(pool, bot.id)
        assert chats[new_group] == "subscribed"
        assert old_group not in chats
        async with pool.acquire() as connection:
            counts = await run_rows.counts(connection, run.id)
        assert counts.sent == counts.total == 21


async def test_run__kicked_not_member_no_rights__each_answer_classified(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = World.generate(10, seed=9)
    chats = {
        -1001000000001: ("supergroup", "kicked"),
        -2002: ("group", "kicked"),
        -1001000000003: ("channel", "not_member"),
        -1001000000004: ("supergroup", "no_rights"),
        100000001: ("private", "deactivated"),
    }
    for chat_id, (kind, state) in chats.items():
        world.set_chat(chat_id, kind, state)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "answers", RATE)
        await import_world(pool, world, bot, tmp_path)
        for chat_id in chats:
            await pool.execute(
                "INSERT INTO subscribers (bot_id, chat_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                bot.id,
                chat_id,
            )
        run = await start_campaign(pool, bot, "answers")
        await deliver(pool, settings, [run.id])

    rows = await pool.fetch(
        "SELECT s.chat_id, s.status, s.flagged, d.failure, d.error FROM deliveries d"
        " JOIN subscribers s ON s.id = d.subscriber_id WHERE d.run_id = $1",
        run.id,
    )
    outcome = {row["chat_id"]: (row["status"], row["failure"], row["flagged"]) for row in rows}
    assert outcome[-1001000000001] == ("gone", "gone", None)
    assert outcome[-2002] == ("gone", "gone", None)
    assert outcome[-1001000000003] == ("gone", "gone", None)
    assert outcome[-1001000000004] == ("subscribed", "no_rights", "bot has no rights to post")
    assert outcome[100000001] == ("blocked", "blocked", None)
    errors_seen = {row["chat_id"]: row["error"] for row in rows}
    assert errors_seen[-2002] == "Forbidden: bot was kicked from the group chat"
    assert errors_seen[-1001000000003] == "Forbidden: bot is not a member of the channel chat"
