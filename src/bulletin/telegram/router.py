"""For operators who run their own bot: record subscriptions into bulletin from its updates.

    dispatcher.update.outer_middleware(SubscriptionMiddleware(UpdateStore(pool)))
    dispatcher.include_router(subscription_router())   # optional: answers /start and /stop

The middleware applies the same consent rules as `bulletin listen`, once per update id,
before the bot's own handlers run; they find the decision in their `subscription` argument.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Router, types

from bulletin import subscriptions
from bulletin.config import ListenerSettings
from bulletin.telegram.signals import signal_of

Handler = Callable[[types.TelegramObject, dict[str, Any]], Awaitable[Any]]


class SubscriptionMiddleware(BaseMiddleware):
    """An outer middleware for `dispatcher.update` that records every opt-in and opt-out."""

    def __init__(
        self, store: subscriptions.Store, settings: ListenerSettings | None = None
    ) -> None:
        self.store = store
        self.settings = settings or ListenerSettings()

    async def __call__(
        self, handler: Handler, event: types.TelegramObject, data: dict[str, Any]
    ) -> Any:
        update = event if isinstance(event, types.Update) else data.get("event_update")
        bot = data.get("bot")
        data["subscription"] = None
        if isinstance(update, types.Update) and isinstance(bot, Bot):
            decision = subscriptions.decide(signal_of(update), self.settings)
            if await self.store.apply(bot.id, update.update_id, decision):
                data["subscription"] = decision
        return await handler(event, data)


def subscription_router(name: str = "bulletin") -> Router:
    """A router answering /start and /stop (and the stop keywords) with the configured texts."""
    router = Router(name=name)

    async def reply_due(
        message: types.Message, subscription: subscriptions.Decision | None = None
    ) -> bool | dict[str, str]:
        if subscription is None or not subscription.reply:
            return False
        return {"reply": subscription.reply}

    @router.message(reply_due)
    async def answer(message: types.Message, reply: str) -> None:
        await message.answer(reply)

    return router
