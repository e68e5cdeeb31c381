"""An operator's own aiogram bot, recording subscriptions through bulletin's middleware."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher, Router, types
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bulletin import subscriptions
from bulletin.db.updates import UpdateStore
from bulletin.telegram.router import SubscriptionMiddleware, subscription_router
from tests.listener.conftest import GOODBYE, WELCOME, Setup
from tests.support import wait_for

PERSON = 100_000_901
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "own_bot.py"


@pytest.fixture
async def operator_bot(setup: Setup) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(setup.sandbox.url))
    bot = Bot(setup.bot.token, session=session)
    yield bot
    await session.close()


def dispatcher(setup: Setup, seen: list[subscriptions.Decision | None], answer: bool) -> Dispatcher:
    own = Router(name="operator")

    @own.message()
    async def operator_handler(
        message: types.Message, subscription: subscriptions.Decision | None
    ) -> None:
        seen.append(subscription)

    dispatching = Dispatcher()
    dispatching.update.outer_middleware(
        SubscriptionMiddleware(UpdateStore(setup.pool), setup.settings.listener)
    )
    if answer:
        dispatching.include_router(subscription_router())
    dispatching.include_router(own)
    return dispatching


async def feed(setup: Setup, bot: Bot, dispatching: Dispatcher) -> int:
    updates = await bot.get_updates()
    for update in updates:
        await dispatching.feed_update(bot, update)
    return len(updates)


async def test_middleware__own_handlers_still_run_and_see_the_decision(
    setup: Setup, operator_bot: Bot
) -> None:
    seen: list[subscriptions.Decision | None] = []
    setup.sandbox.actions.start(setup.bot.id, PERSON, "from_ad")
    setup.sandbox.actions.send_text(setup.bot.id, PERSON, "how much is it?")
    setup.sandbox.actions.block(setup.bot.id, PERSON)

    assert await feed(setup, operator_bot, dispatcher(setup, seen, answer=False)) == 3

    row = await setup.subscriber(PERSON)
    assert row is not None
    assert (row["status"], row["source"]) == ("blocked", "from_ad")
    assert [d.change.kind if d and d.change else None for d in seen] == [
        subscriptions.Kind.SUBSCRIBE,
        None,
    ]
    assert setup.replies(PERSON) == []  # the operator's bot answers for itself


async def test_router__answers_start_and_stop_with_the_configured_texts(
    setup: Setup, operator_bot: Bot
) -> None:
    seen: list[subscriptions.Decision | None] = []
    setup.sandbox.actions.start(setup.bot.id, PERSON)
    setup.sandbox.actions.send_text(setup.bot.id, PERSON, "hello")
    setup.sandbox.actions.stop(setup.bot.id, PERSON)
    dispatching = dispatcher(setup, seen, answer=True)

    await feed(setup, operator_bot, dispatching)

    assert setup.replies(PERSON) == [WELCOME, GOODBYE]
    assert len(seen) == 1  # "hello" reached the operator's handler; /start and /stop were answered
    assert await setup.status(PERSON) == "unsubscribed"


def database_url(setup: Setup) -> str:
    assert setup.settings.database_url is not None
    return setup.settings.database_url.get_secret_value()


async def test_example__own_bot_runs_and_records_a_start(setup: Setup) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BULLETIN_")}
    env.update(
        BOT_TOKEN=setup.bot.token,
        BOT_API_URL=setup.sandbox.url,
        BULLETIN_LISTENER__WELCOME_TEXT=WELCOME,
        BULLETIN_DATABASE_URL=database_url(setup),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        setup.sandbox.actions.start(setup.bot.id, PERSON, "example")
        await wait_for(
            setup.pool,
            "SELECT status = 'subscribed' FROM subscribers WHERE chat_id = $1",
            PERSON,
            timeout_s=30,
        )
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            _, errors = await process.communicate()
    assert process.returncode == 0, errors.decode()
    assert setup.replies(PERSON) == [WELCOME]
