"""Reaching the Bot API through proxies: failover on network errors, back when recovered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bulletin import config, models
from bulletin.db import bots as bot_rows
from bulletin.sandbox import Sandbox, World
from bulletin.telegram.client import BotClient
from tests.proxy import ConnectProxy
from tests.support import deliver, import_world, ledger_counts, register_bot, start_campaign

RATE = 300.0


def text(body: str) -> models.Message:
    return models.Message(models.ContentKind.TEXT, body)


@pytest.fixture
async def proxies() -> AsyncIterator[tuple[ConnectProxy, ConnectProxy]]:
    first, second = ConnectProxy(), ConnectProxy()
    await first.start()
    await second.start()
    yield first, second
    await first.stop()
    await second.stop()


async def test_client__first_proxy_down__fails_over_then_returns_when_it_recovers(
    proxies: tuple[ConnectProxy, ConnectProxy],
) -> None:
    first, second = proxies
    world = World.generate(5, seed=61)
    bot = world.add_bot()
    now = [0.0]
    async with Sandbox(world) as sandbox:
        client = BotClient(bot.token, sandbox.url, proxies=[first.url, second.url], timeout_s=2)
        client.routes._clock = lambda: now[0]  # the test controls when a route may be retried
        try:
            assert (await client.send(100000001, text("one"))).message_id
            assert first.tunnels == 1
            await first.stop()
            failed = await client.send(100000002, text("two"))
            assert failed.action == "retry"  # the delivery is retried later, not lost
            assert (await client.send(100000002, text("two"))).message_id
            assert second.tunnels == 1
            await first.start()
            assert (await client.send(100000003, text("three"))).message_id
            assert first.tunnels == 1  # still resting
            now[0] += 31
            assert (await client.send(100000004, text("four"))).message_id
            assert first.tunnels == 2
        finally:
            await client.close()
    assert sorted(ledger_counts(sandbox)) == [100000001, 100000002, 100000003, 100000004]


async def test_run__bot_behind_a_dead_and_a_live_proxy__every_chat_reached_once(
    settings: config.Settings,
    pool: asyncpg.Pool,
    tmp_path: Path,
    proxies: tuple[ConnectProxy, ConnectProxy],
) -> None:
    first, second = proxies
    await first.stop()
    world = World.generate(300, seed=62)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "proxied", RATE)
        async with pool.acquire() as connection:
            await bot_rows.set_pace(connection, bot.id, proxies=[first.url, second.url])
        await import_world(pool, world, bot, tmp_path)
        run = await start_campaign(pool, bot, "proxied")

        await deliver(pool, settings, [run.id])

    assert set(ledger_counts(sandbox).values()) == {1}
    assert len(ledger_counts(sandbox)) == 300
    assert second.tunnels >= 1
