"""Migration 0007 on a database that already holds the duplicate runs it outlaws."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from bulletin.db import migrations
from tests.db.releases import migrated_before

SEED = """
INSERT INTO bots (id, name, username, token, api_url) VALUES (1, 'news', 'news_bot', 't', 'u');
INSERT INTO subscribers (bot_id, chat_id) SELECT 1, n FROM generate_series(1, 3) AS n;
INSERT INTO campaigns (id, name, bot_id, status) VALUES (1, 'twice', 1, 'active'),
                                                        (2, 'over', 1, 'active');
INSERT INTO variants (id, campaign_id, name, text) VALUES (1, 1, 'a', 'hi'), (2, 2, 'a', 'hi');
INSERT INTO runs (id, campaign_id, status) VALUES (1, 1, 'running'), (2, 1, 'running'),
                                                  (3, 2, 'done');
INSERT INTO deliveries (run_id, bot_id, subscriber_id, chat_id, variant_id, status)
SELECT r, 1, s.id, s.chat_id, 1, 'pending' FROM subscribers s, generate_series(1, 2) AS r;
"""


@pytest.fixture
async def before_0007(admin_url: str) -> AsyncIterator[asyncpg.Connection]:
    """An empty database migrated up to 0006, as a database of the previous release."""
    async with migrated_before(admin_url, 7) as connection:
        yield connection


async def test_0007__two_unfinished_runs__the_later_cancelled_its_pending_skipped(
    before_0007: asyncpg.Connection,
) -> None:
    await before_0007.execute(SEED)

    await migrations.apply(before_0007)

    runs = await before_0007.fetch("SELECT id, number, status FROM runs ORDER BY id")
    assert [tuple(row) for row in runs] == [(1, 1, "running"), (2, 2, "cancelled"), (3, 1, "done")]
    deliveries = await before_0007.fetch(
        "SELECT run_id, status, count(*) AS n FROM deliveries GROUP BY 1, 2 ORDER BY 1"
    )
    assert [tuple(row) for row in deliveries] == [(1, "pending", 3), (2, "skipped", 3)]
    statuses = await before_0007.fetch("SELECT name, status FROM campaigns ORDER BY id")
    assert [tuple(row) for row in statuses] == [("twice", "active"), ("over", "done")]
    with pytest.raises(asyncpg.UniqueViolationError):
        await before_0007.execute("UPDATE runs SET status = 'paused' WHERE id = 2")
