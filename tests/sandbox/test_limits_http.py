"""Flood limits over HTTP: 429 with retry_after, the penalty, paid broadcasts, unlimited mode."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter

from bulletin.sandbox import ChatKind, Sandbox, World
from tests.sandbox.conftest import PRIVATE_CHAT_ID, FakeClock, aiogram_bot

SUPERGROUP_CHAT_ID = -1001000000001


async def test_bot_limit__burst_spent__retry_after_and_penalty(
    sandbox: Sandbox, connect: Callable[[str], Bot], clock: FakeClock
) -> None:
    bot = connect(sandbox.world.add_bot(rate_per_s=3).token)
    for offset in range(3):
        await bot.send_message(PRIVATE_CHAT_ID + offset, "ok")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(PRIVATE_CHAT_ID + 3, "over")
    assert caught.value.retry_after == 1
    assert caught.value.message.endswith("Original description: Too Many Requests: retry after 1")
    clock.advance(0.5)
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(PRIVATE_CHAT_ID + 4, "too early")
    clock.advance(caught.value.retry_after)
    await bot.send_message(PRIVATE_CHAT_ID + 4, "after waiting")
    stats = sandbox.stats
    assert (stats.too_many_requests, stats.bot_limit_429, stats.chat_limit_429) == (2, 2, 0)
    assert stats.requests_during_retry_after == 1
    assert len(sandbox.ledger) == 4


async def test_bot_limit__penalty__other_bots_unaffected(
    sandbox: Sandbox, connect: Callable[[str], Bot]
) -> None:
    slow_bot = connect(sandbox.world.add_bot(rate_per_s=1).token)
    other_bot = connect(sandbox.world.add_bot(rate_per_s=1).token)
    await slow_bot.send_message(PRIVATE_CHAT_ID, "one")
    with pytest.raises(TelegramRetryAfter):
        await slow_bot.send_message(PRIVATE_CHAT_ID + 1, "two")
    await other_bot.send_message(PRIVATE_CHAT_ID + 1, "fine")


async def test_chat_limit__private_chat__fourth_message_429(
    bot: Bot, sandbox: Sandbox, clock: FakeClock
) -> None:
    for _ in range(3):
        await bot.send_message(PRIVATE_CHAT_ID, "burst")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(PRIVATE_CHAT_ID, "one too many")
    assert caught.value.retry_after == 1
    await bot.send_message(PRIVATE_CHAT_ID + 1, "another chat is fine")
    clock.advance(1)
    await bot.send_message(PRIVATE_CHAT_ID, "later is fine")
    assert (sandbox.stats.chat_limit_429, sandbox.stats.requests_during_retry_after) == (1, 0)


async def test_chat_limit__group__twenty_per_minute(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.world.set_chat(SUPERGROUP_CHAT_ID, ChatKind.SUPERGROUP)
    for _ in range(20):
        await bot.send_message(SUPERGROUP_CHAT_ID, "news")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(SUPERGROUP_CHAT_ID, "more news")
    assert caught.value.retry_after == 3


async def test_paid_broadcast__beyond_free_rate__accepted(
    sandbox: Sandbox, connect: Callable[[str], Bot]
) -> None:
    bot = connect(sandbox.world.add_bot(rate_per_s=2).token)
    for offset in range(10):
        await bot.send_message(PRIVATE_CHAT_ID + offset, "paid", allow_paid_broadcast=True)
    assert [entry.paid for entry in sandbox.ledger] == [True] * 10
    assert sandbox.stats.too_many_requests == 0


async def test_unlimited__far_beyond_limits__all_accepted(world: World, clock: FakeClock) -> None:
    token = world.add_bot(rate_per_s=1).token
    async with Sandbox(world, unlimited=True, clock=clock) as sandbox:
        bot = aiogram_bot(sandbox.url, token)
        try:
            for _ in range(20):
                await bot.send_message(PRIVATE_CHAT_ID, "fast")
        finally:
            await bot.session.close()
    assert len(sandbox.ledger) == 20
    assert sandbox.stats.too_many_requests == 0
