"""The control API: ledger, stats, bots, chats, faults and the audience file over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError, TelegramUnauthorizedError

from bulletin.sandbox import Sandbox
from tests.sandbox.conftest import PRIVATE_CHAT_ID, aiogram_bot


@pytest.fixture
async def control(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.url) as session:
        yield session


async def test_ledger__since_and_bot_filter(
    bot: Bot, sandbox: Sandbox, control: aiohttp.ClientSession
) -> None:
    await bot.send_message(PRIVATE_CHAT_ID, "one")
    await bot.send_message(PRIVATE_CHAT_ID + 1, "two")
    async with control.get("/sandbox/ledger", params={"since": 1}) as response:
        page = await response.json()
    assert [entry["text"] for entry in page["entries"]] == ["two"]
    assert page["next"] == 2
    async with control.get("/sandbox/ledger", params={"bot_id": 1}) as response:
        assert (await response.json())["entries"] == []
    entry = sandbox.ledger[0].as_dict()
    assert set(entry) == {
        "bot_id", "chat_id", "message_id", "text", "parse_mode", "paid", "at", "answered",
        "method", "fields",
    }  # fmt: skip


async def test_stats__counts_then_reset(bot: Bot, control: aiohttp.ClientSession) -> None:
    await bot.get_me()
    async with control.get("/sandbox/stats") as response:
        assert (await response.json())["requests"] == 1
    async with control.post("/sandbox/reset-stats") as response:
        assert (await response.json())["requests"] == 0


async def test_bots__add_then_revoke(sandbox: Sandbox, control: aiohttp.ClientSession) -> None:
    token = "424242:" + "k" * 35
    async with control.post("/sandbox/bots", json={"rate_per_s": 5, "token": token}) as response:
        created = await response.json()
    assert (response.status, created["id"], created["rate_per_s"]) == (201, 424242, 5.0)
    bot = aiogram_bot(sandbox.url, token)
    try:
        assert (await bot.get_me()).id == 424242
        async with control.post("/sandbox/bots/424242/revoke") as response:
            assert (await response.json())["revoked"] is True
        with pytest.raises(TelegramUnauthorizedError):
            await bot.get_me()
    finally:
        await bot.session.close()


async def test_bots__duplicate_token__400(sandbox: Sandbox, control: aiohttp.ClientSession) -> None:
    token = next(iter(sandbox.world.bots.values())).token
    async with control.post("/sandbox/bots", json={"token": token}) as response:
        assert response.status == 400


async def test_chats__set_state__applies(bot: Bot, control: aiohttp.ClientSession) -> None:
    body = {"chat_id": PRIVATE_CHAT_ID, "kind": "private", "state": "blocked"}
    async with control.post("/sandbox/chats", json=body) as response:
        assert (await response.json())["state"] == "blocked"
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(PRIVATE_CHAT_ID, "hello")


async def test_chats__unknown_state__400(control: aiohttp.ClientSession) -> None:
    body = {"chat_id": 5, "kind": "private", "state": "asleep"}
    async with control.post("/sandbox/chats", json=body) as response:
        assert response.status == 400


async def test_faults__set__replaced(sandbox: Sandbox, control: aiohttp.ClientSession) -> None:
    body = {"error_rate": 0.5, "seed": 3}
    async with control.post("/sandbox/faults", json=body) as response:
        assert (await response.json())["error_rate"] == 0.5
    assert (sandbox.faults.error_rate, sandbox.faults.seed) == (0.5, 3)
    async with control.post("/sandbox/faults", json={"typo_rate": 1}) as response:
        assert response.status == 400


async def test_limits__unlimited_toggle(sandbox: Sandbox, control: aiohttp.ClientSession) -> None:
    async with control.post("/sandbox/limits", json={"unlimited": True}) as response:
        assert (await response.json())["unlimited"] is True
    assert sandbox.limiter.unlimited


async def test_audience_csv__generated_rows(
    sandbox: Sandbox, control: aiohttp.ClientSession
) -> None:
    async with control.get("/sandbox/audience.csv") as response:
        lines = (await response.text()).splitlines()
    assert lines[0] == "chat_id,first_name,username,language_code"
    assert len(lines) == 1 + len(sandbox.world.audience_rows())
