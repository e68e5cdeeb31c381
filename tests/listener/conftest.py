"""Listener fixtures: a sandbox with one bot registered in a fresh database, and a listener
running in this process by long polling or by webhook until the test ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from bulletin import config, models
from bulletin.app import serve as app_serve
from bulletin.db.updates import UpdateStore
from bulletin.sandbox import Sandbox, World
from bulletin.telegram import webhook
from bulletin.telegram.client import BotClient
from bulletin.telegram.listener import Listener, OffsetStore, poll_all
from tests.engine.conftest import pool
from tests.support import register_bot, wait_for

__all__ = ["pool"]

RATE = 1000.0
WELCOME = "Welcome aboard"
GOODBYE = "Bye for now"


@dataclass
class Setup:
    """A sandbox, its bot as registered in bulletin, and the database pool."""

    sandbox: Sandbox
    bot: models.Bot
    pool: asyncpg.Pool
    settings: config.Settings

    async def processed(self, update_id: int | None) -> None:
        """Wait until the listener has applied every update up to update_id."""
        assert update_id is not None
        await wait_for(
            self.pool,
            "SELECT next_update_id > $2 FROM update_offsets WHERE bot_id = $1",
            self.bot.id,
            update_id,
        )

    async def subscriber(self, chat_id: int) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "SELECT * FROM subscribers WHERE bot_id = $1 AND chat_id = $2", self.bot.id, chat_id
        )

    async def status(self, chat_id: int) -> str | None:
        status: str | None = await self.pool.fetchval(
            "SELECT status FROM subscribers WHERE bot_id = $1 AND chat_id = $2",
            self.bot.id,
            chat_id,
        )
        return status

    async def events(self, chat_id: int) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT kind FROM events WHERE bot_id = $1 AND chat_id = $2 ORDER BY id",
            self.bot.id,
            chat_id,
        )
        return [row["kind"] for row in rows]

    async def answered(self) -> None:
        """Wait until every queued reply has been sent or has failed."""
        await wait_for(
            self.pool,
            "SELECT NOT EXISTS (SELECT 1 FROM outbox WHERE status IN ('pending', 'sending'))",
        )

    def replies(self, chat_id: int) -> list[str]:
        return [e.text for e in self.sandbox.ledger if e.chat_id == chat_id]


@pytest.fixture
def listener_settings(settings: config.Settings) -> config.Settings:
    listener = config.ListenerSettings(
        welcome_text=WELCOME, stop_confirmation=GOODBYE, stop_keywords=("stop", "Unsubscribe")
    )
    return settings.model_copy(update={"listener": listener})


@pytest.fixture
async def setup(pool: asyncpg.Pool, listener_settings: config.Settings) -> AsyncIterator[Setup]:
    world = World.generate(0, seed=1)
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "listened", RATE)
        yield Setup(sandbox, bot, pool, listener_settings)


def make_listener(setup: Setup, store: OffsetStore | None = None) -> Listener:
    client = BotClient(setup.bot.token, setup.bot.api_url)
    return Listener(setup.bot, client, store or UpdateStore(setup.pool), setup.settings.listener)


@contextlib.asynccontextmanager
async def replying(setup: Setup) -> AsyncIterator[None]:
    """The outbox-only sender `bulletin listen` runs, until the outbox is empty and the block ends."""
    sender = app_serve.make_worker(
        setup.pool, setup.settings, only_bots=[setup.bot.id], outbox_only=True
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        yield
        await setup.answered()
    finally:
        stop.set()
        await task


@contextlib.asynccontextmanager
async def listening(
    setup: Setup, mode: str, store: OffsetStore | None = None
) -> AsyncIterator[asyncio.Event]:
    """Run a listener and the replies' sender until the block ends (or stop is set)."""
    async with replying(setup), _listening(setup, mode, store) as stop:
        yield stop


@contextlib.asynccontextmanager
async def _listening(
    setup: Setup, mode: str, store: OffsetStore | None = None
) -> AsyncIterator[asyncio.Event]:
    listener = make_listener(setup, store)
    stop = asyncio.Event()
    try:
        if mode == "webhook":
            async with webhook.serving([listener], None, "127.0.0.1", 0):
                yield stop
        else:
            task = asyncio.create_task(poll_all([listener], stop))
            try:
                yield stop
            finally:
                stop.set()
                await task
    finally:
        await listener.client.close()


@pytest.fixture(params=["polling", "webhook"])
def mode(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value
