"""Faults over HTTP: server errors, answers lost after recording, slow answers."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramServerError

from bulletin.sandbox import Faults, Sandbox
from tests.sandbox.conftest import PRIVATE_CHAT_ID


async def _outcomes(bot: Bot, count: int) -> list[str]:
    outcomes = []
    for offset in range(count):
        try:
            await bot.send_message(PRIVATE_CHAT_ID + offset % 10, "hello")
        except TelegramServerError as error:
            outcomes.append(error.message)
        else:
            outcomes.append("ok")
    return outcomes


async def test_error_rate__seeded__same_outcomes_each_time(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.limiter.unlimited = True
    sandbox.faults = Faults(error_rate=0.3, seed=4)
    first = await _outcomes(bot, 30)
    sandbox.faults = Faults(error_rate=0.3, seed=4)
    second = await _outcomes(bot, 30)
    assert first == second
    assert {"ok", "Internal Server Error", "Bad Gateway"} <= set(first)
    assert len(sandbox.ledger) == 2 * first.count("ok")
    assert sandbox.stats.errors_5xx == 2 * (30 - first.count("ok"))


async def test_record_then_fail__always__recorded_but_500(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.faults = Faults(record_then_fail_rate=1.0)
    with pytest.raises(TelegramServerError):
        await bot.send_message(PRIVATE_CHAT_ID, "shown but unanswered")
    entry = sandbox.ledger[0]
    assert (entry.text, entry.answered) == ("shown but unanswered", False)
    assert (sandbox.stats.record_then_fail, sandbox.stats.accepted) == (1, 1)


async def test_slow__client_timeout__recorded_unanswered(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.faults = Faults(slow_rate=1.0, slow_s=0.3)
    url = f"{sandbox.url}/bot{bot.token}/sendMessage"
    body = {"chat_id": PRIVATE_CHAT_ID, "text": "late"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.05)) as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.post(url, json=body)
    await asyncio.sleep(0.4)
    assert sandbox.stats.slow == 1
    assert [entry.answered for entry in sandbox.ledger] == [False]


async def test_slow__patient_client__answered(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.faults = Faults(slow_rate=1.0, slow_s=0.1)
    message = await bot.send_message(PRIVATE_CHAT_ID, "late but fine")
    assert message.message_id == 1
    assert sandbox.ledger[0].answered is True


async def test_faults__constructor__applied(bot: Bot, sandbox: Sandbox) -> None:
    faulty = Sandbox(sandbox.world, faults=Faults(error_rate=1.0))
    async with faulty, aiohttp.ClientSession() as session:
        url = f"{faulty.url}/bot{bot.token}/sendMessage"
        response = await session.post(url, data={"chat_id": "1", "text": "x"})
        assert response.status in {500, 502}
        assert (await response.json())["ok"] is False
