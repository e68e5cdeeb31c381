"""Serving: run_forever reports its URL and stops when cancelled."""

from __future__ import annotations

import asyncio

import aiohttp

from bulletin.sandbox import World, run_forever


async def test_run_forever__ready_then_cancelled__serves_and_stops() -> None:
    world = World.generate(users=1)
    bot = world.add_bot()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(run_forever(world, port=0, ready=ready.set_result))
    url = await asyncio.wait_for(ready, timeout=5)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/bot{bot.token}/getMe") as response,
    ):
        assert (await response.json())["result"]["id"] == bot.id
    serving.cancel()
    await asyncio.gather(serving, return_exceptions=True)
    assert serving.cancelled()
