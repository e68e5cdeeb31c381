"""Migration 0012 on a database with stats: the campaign rollup rebuilt per bot, runs logged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from bulletin.db import migrations
from tests.db.releases import migrated_before

# Two bots sending one campaign; bot 2's last delivery was skipped by a cancel; one 429.
SEED = """
INSERT INTO bots (id, name, username, token, api_url)
VALUES (1, 'news', 'news_bot', 't1', 'u'), (2, 'deals', 'deals_bot', 't2', 'u');
INSERT INTO subscribers (id, bot_id, chat_id)
VALUES (1, 1, 11), (2, 1, 12), (3, 1, 13), (4, 2, 21), (5, 2, 22);
INSERT INTO campaigns (id, name, bot_id, status) VALUES (1, 'launch', 1, 'cancelled');
INSERT INTO variants (id, campaign_id, name, text) VALUES (1, 1, 'a', 'hi');
INSERT INTO runs (id, campaign_id, number, status) VALUES (1, 1, 1, 'cancelled');
INSERT INTO deliveries (run_id, bot_id, subscriber_id, chat_id, variant_id, status, failure)
VALUES (1, 1, 1, 11, 1, 'sent', NULL), (1, 1, 2, 12, 1, 'sent', NULL),
       (1, 1, 3, 13, 1, 'failed', 'blocked'), (1, 2, 4, 21, 1, 'sent', NULL),
       (1, 2, 5, 22, 1, 'skipped', 'cancelled');
INSERT INTO events (kind, bot_id, run_id, chat_id) VALUES ('delivery.rate_limited', 1, 1, 12);
INSERT INTO daily_campaign_stats (day, campaign_id, variant_id, sent, skipped)
VALUES (current_date, 1, 1, 3, 1);
"""

ROLLUP = """SELECT bot_id, sent, failed, blocked, skipped, rate_limited, opted_out
              FROM daily_campaign_stats ORDER BY bot_id"""


@pytest.fixture
async def before_0012(admin_url: str) -> AsyncIterator[asyncpg.Connection]:
    """An empty database migrated up to 0011, as a database of the previous release."""
    async with migrated_before(admin_url, 12) as connection:
        yield connection


async def test_0012__campaign_sent_by_two_bots__rollup_per_bot_without_the_cancel(
    before_0012: asyncpg.Connection,
) -> None:
    await before_0012.execute(SEED)

    await migrations.apply(before_0012)

    rows = [tuple(row) for row in await before_0012.fetch(ROLLUP)]
    assert rows == [(1, 2, 1, 1, 0, 1, 1), (2, 1, 0, 0, 0, 0, 0)]
    logged = await before_0012.fetchval("SELECT logged_status FROM runs WHERE id = 1")
    assert logged == "cancelled"  # an existing run is not logged as new by the next serve
