"""Fixtures: a sandbox on a free port with a hand-driven clock, and aiogram bots pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bulletin.sandbox import Sandbox, World

PRIVATE_CHAT_ID = 100000001


class FakeClock:
    """A monotonic clock that moves only when a test advances it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def aiogram_bot(url: str, token: str) -> Bot:
    """Return an aiogram bot whose session talks to the sandbox at url."""
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world() -> World:
    world = World.generate(users=10, groups=2, seed=7)
    world.add_bot()
    return world


@pytest.fixture
async def sandbox(world: World, clock: FakeClock) -> AsyncIterator[Sandbox]:
    async with Sandbox(world, clock=clock) as running:
        yield running


@pytest.fixture
async def connect(sandbox: Sandbox) -> AsyncIterator[Callable[[str], Bot]]:
    """Return a factory of aiogram bots talking to the sandbox; sessions close after the test."""
    bots: list[Bot] = []

    def factory(token: str) -> Bot:
        bot = aiogram_bot(sandbox.url, token)
        bots.append(bot)
        return bot

    yield factory
    for bot in bots:
        await bot.session.close()


@pytest.fixture
def bot(sandbox: Sandbox, connect: Callable[[str], Bot]) -> Bot:
    """An aiogram bot for the first bot of the world."""
    first = next(iter(sandbox.world.bots.values()))
    return connect(first.token)
