"""A run's counters (run_delivery_counts) against a count of its deliveries, after faults.

`campaign status`, the API and the dashboard read the counters; these tests run what
changes deliveries (lost commit answers, 5xx, a dead worker's orphans, consent skips, a
cancel, a forgotten chat, a deleted campaign) and compare with the deliveries themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from bulletin import config
from bulletin.db import campaigns as campaign_rows
from bulletin.db import dashboard as dashboard_rows
from bulletin.db import runs as run_rows
from bulletin.db.deliveries import DeliveryStore
from bulletin.sandbox import Faults, Sandbox, World
from tests.engine.test_faults import RATE, run_until_finished
from tests.engine.test_stats_rollups import LosesEveryOtherRecordAnswer
from tests.support import import_world, register_bot, run_cli, start_campaign

# What run_counts said before the counters: a count of the run's deliveries.
COUNTED = """
SELECT count(*) AS total,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'sending') AS sending,
       count(*) FILTER (WHERE status = 'sent') AS sent,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'skipped') AS skipped,
       count(*) FILTER (WHERE status = 'uncertain') AS uncertain,
       count(*) FILTER (WHERE failure = 'blocked') AS blocked,
       count(*) FILTER (WHERE failure = 'gone') AS gone,
       min(sent_at) AS first_sent_at,
       max(sent_at) AS last_sent_at
  FROM deliveries
 WHERE run_id = $1"""
# What the throughput chart read before run_sends: the sent deliveries per second.
PER_SECOND = """
SELECT floor(extract(epoch FROM sent_at))::bigint AS second, count(*) AS sent
  FROM deliveries
 WHERE run_id = $1 AND status = 'sent'
 GROUP BY 1
 ORDER BY 1"""
FIGURES = (
    "total", "pending", "sending", "sent", "failed", "skipped", "uncertain", "blocked", "gone",
    "first_sent_at", "last_sent_at",
)  # fmt: skip


async def counters_and_count(pool: asyncpg.Pool, run_id: int) -> tuple[dict[str, Any], ...]:
    async with pool.acquire() as connection:
        counts = await run_rows.counts(connection, run_id)
    counted = await pool.fetchrow(COUNTED, run_id)
    assert counted is not None
    return {name: getattr(counts, name) for name in FIGURES}, dict(counted)


async def test_counters__lost_answers_5xx_orphans_and_consent_skips__equal_a_count(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = World.generate(300, blocked=0.1, gone=0.05, seed=71)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world, faults=Faults(error_rate=0.1, seed=71)) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "counted", RATE)
        await import_world(pool, world, bot, tmp_path)
        run = await start_campaign(pool, bot, "counted")
        # A dead worker's sends in flight (handed to Telegram, answer unknown), and chats that
        # opted out since the snapshot.
        await pool.execute(
            """UPDATE deliveries SET status = 'sending', claimed_by = 'dead', claim_id = 1,
                                   handed_at = now()
                WHERE id IN (SELECT id FROM deliveries ORDER BY id LIMIT 5)"""
        )
        await pool.execute(
            """UPDATE subscribers SET status = 'unsubscribed'
                WHERE id IN (SELECT subscriber_id FROM deliveries ORDER BY id DESC LIMIT 3)"""
        )
        midway = await counters_and_count(pool, run.id)
        store = LosesEveryOtherRecordAnswer(DeliveryStore(pool))
        await run_until_finished(store, settings, run.id)
        counters, counted = await counters_and_count(pool, run.id)
        async with pool.acquire() as connection:
            per_second = await dashboard_rows.throughput(connection, run.id, 1)
    assert midway[0] == midway[1]
    assert per_second == [
        (row["second"], row["sent"]) for row in await pool.fetch(PER_SECOND, run.id)
    ]
    assert store.lost >= 1
    assert counters == counted
    assert (counters["uncertain"], counters["skipped"]) == (5, 3)
    assert counters["sent"] > 0
    assert counters["blocked"] > 0
    assert counters["pending"] == counters["sending"] == 0


async def test_counters__cancel_forget_and_delete__equal_a_count(
    pool: asyncpg.Pool, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    world = World.generate(30, seed=72)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "ended", RATE)
        await import_world(pool, world, bot, tmp_path)
        run = await start_campaign(pool, bot, "ended")
        counters, counted = await counters_and_count(pool, run.id)
        assert counters == counted
        assert counters["pending"] == 30
        async with pool.acquire() as connection:
            campaign = await campaign_rows.find(connection, "ended")
            await campaign_rows.cancel(connection, campaign)
        counters, counted = await counters_and_count(pool, run.id)
        assert counters == counted
        assert counters["skipped"] == 30

        # Forgetting a chat deletes its deliveries (a cascade): the counters follow.
        chat_id = await pool.fetchval("SELECT min(chat_id) FROM deliveries")
        code, _, err = await run_cli(
            "audience", "forget", str(chat_id), "--bot", "ended", env=cli_env
        )
        assert code == 0, err
        counters, counted = await counters_and_count(pool, run.id)
        assert counters == counted
        assert counters["total"] == 29

        # Deleting the campaign deletes its runs, their deliveries and their counters.
        code, _, err = await run_cli("campaign", "delete", "ended", "--yes", env=cli_env)
        assert code == 0, err
        assert await pool.fetchval("SELECT count(*) FROM run_delivery_counts") == 0
