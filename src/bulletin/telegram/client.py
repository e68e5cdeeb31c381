"""The Bot API client: aiogram's Bot pointed at any API server, answers turned into Outcomes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiogram import Bot, types
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.utils.token import TokenValidationError

from bulletin import errors, models
from bulletin.telegram import classify

DEFAULT_API_URL = models.DEFAULT_API_URL


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a token belongs to, from getMe."""

    id: int
    username: str
    first_name: str


class BotClient:
    """One bot's connection to the Bot API; close it when done."""

    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        timeout_s: float = 10.0,
        max_connections: int = 100,
    ) -> None:
        session = AiohttpSession(
            api=TelegramAPIServer.from_base(api_url.rstrip("/")), limit=max_connections
        )
        session.timeout = timeout_s
        try:
            self._bot = Bot(token=token, session=session)
        except TokenValidationError:
            raise errors.TokenRejected(
                f"{models.mask_token(token)} is not a bot token (expected 123456:ABC…)"
            ) from None
        self._timeout_s = timeout_s

    async def get_me(self) -> Identity:
        """Validate the token; TokenRejected or TelegramError in one line otherwise."""
        try:
            async with asyncio.timeout(self._timeout_s + 1):
                user = await self._bot.get_me()
        except TelegramUnauthorizedError:
            raise errors.TokenRejected(
                f"the Bot API rejected token {models.mask_token(self._bot.token)} (Unauthorized)"
            ) from None
        except (TelegramAPIError, TimeoutError, OSError) as exc:
            raise errors.TelegramError(f"getMe failed: {exc}") from None
        return Identity(id=user.id, username=user.username or "", first_name=user.first_name)

    async def send_text(
        self, chat_id: int, text: str, parse_mode: models.ParseMode
    ) -> classify.Outcome:
        """Send one text message; every answer, error or timeout becomes an Outcome."""
        try:
            async with asyncio.timeout(self._timeout_s + 1):
                message = await self._bot.send_message(
                    chat_id=chat_id, text=text, parse_mode=parse_mode.telegram_name
                )
        except Exception as exc:  # every failure is classified in one place
            return classify.classify(exc)
        return classify.sent(message.message_id)

    async def get_updates(
        self, offset: int, timeout_s: int, allowed_updates: list[str]
    ) -> list[types.Update]:
        """Long-poll for updates from offset on; aiogram's errors are left to the caller."""
        return await self._bot.get_updates(
            offset=offset,
            timeout=timeout_s,
            allowed_updates=allowed_updates,
            request_timeout=int(timeout_s + self._timeout_s),
        )

    async def set_webhook(self, url: str, secret_token: str, allowed_updates: list[str]) -> None:
        """Ask Telegram to push updates to url, signed with secret_token."""
        await self._bot.set_webhook(url, secret_token=secret_token, allowed_updates=allowed_updates)

    async def delete_webhook(self) -> None:
        """Stop pushing updates; pending ones wait for getUpdates (or the next webhook)."""
        await self._bot.delete_webhook(drop_pending_updates=False)

    async def close(self) -> None:
        await self._bot.session.close()
