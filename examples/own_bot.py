"""Your own aiogram bot, recording opt-ins and opt-outs into bulletin's database.

bulletin's middleware applies the same consent rules as `bulletin listen` before your
handlers run: /start (with its deep-link payload as the source), /stop and the stop
keywords, blocks, and the bot being added to or removed from groups and channels.
Your handlers find what was recorded in their `subscription` argument.

    bulletin bot add <token> --name mine          # the bot must be registered first
    BOT_TOKEN=<token> BULLETIN_DATABASE_URL=postgresql://… python examples/own_bot.py

Try it without Telegram: `bulletin sandbox` in another terminal, register its token with
`--api-url http://127.0.0.1:8081`, and set BOT_API_URL=http://127.0.0.1:8081 here.
Don't run `bulletin listen` for the same bot: Telegram gives updates to one consumer only.
"""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher, Router, types
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command

from bulletin import config, subscriptions
from bulletin.db.pool import open_pool
from bulletin.db.updates import UpdateStore
from bulletin.telegram.router import SubscriptionMiddleware, subscription_router

own = Router(name="my-bot")


@own.message(Command("help"))
async def help_command(message: types.Message) -> None:
    await message.answer("Send /start to get our news, /stop to stop them.")


@own.message()
async def anything_else(
    message: types.Message, subscription: subscriptions.Decision | None
) -> None:
    # Your bot's own conversation goes here; bulletin has already recorded any opt-in/out.
    await message.answer("Thanks! A human will read this soon.")


async def main() -> None:
    settings = config.load(None, os.environ)  # BULLETIN_* variables, as for the CLI
    api_url = os.environ.get("BOT_API_URL", "https://api.telegram.org")
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    async with open_pool(settings) as pool:
        dispatcher = Dispatcher()
        dispatcher.update.outer_middleware(
            SubscriptionMiddleware(UpdateStore(pool), settings.listener)
        )
        # Answers /start and /stop with settings.listener's texts. Leave it out if your
        # own handlers answer them (the middleware still records the opt-in or opt-out).
        dispatcher.include_router(subscription_router())
        dispatcher.include_router(own)
        await dispatcher.start_polling(bot, allowed_updates=["message", "my_chat_member"])


if __name__ == "__main__":
    asyncio.run(main())
