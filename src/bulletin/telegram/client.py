"""The Bot API client: aiogram's Bot pointed at any API server, answers turned into Outcomes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from aiogram.exceptions import (
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetMe, SendMessage, TelegramMethod
from aiogram.utils.token import TokenValidationError, validate_token
from aiohttp_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

from bulletin import config, errors, models
from bulletin.telegram import classify
from bulletin.telegram.routes import Routes

log = logging.getLogger(__name__)

T = TypeVar("T")

# aiohttp-socks raises its own errors for a proxy that refuses or times out; they are
# connectivity failures like any other, so the delivery is retried and the route rests.
PROXY_ERRORS = (ProxyConnectionError, ProxyError, ProxyTimeoutError)

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
        proxies: Sequence[str] = (),
        proxy_retry_s: float = 30.0,
    ) -> None:
        try:
            validate_token(token)
        except TokenValidationError:
            raise errors.TokenRejected(
                f"{models.mask_token(token)} is not a bot token (expected 123456:ABC…)"
            ) from None
        self._token = token
        self._timeout_s = timeout_s
        self.routes = Routes(
            token,
            api_url,
            proxies,
            timeout_s=timeout_s,
            max_connections=max_connections,
            retry_s=proxy_retry_s,
        )

    async def get_me(self) -> Identity:
        """Validate the token; TokenRejected or TelegramError in one line otherwise."""
        try:
            user = await self._call(GetMe())
        except TelegramUnauthorizedError:
            raise errors.TokenRejected(
                f"the Bot API rejected token {models.mask_token(self._token)} (Unauthorized)"
            ) from None
        except (TelegramAPIError, TimeoutError, OSError) as exc:
            raise errors.TelegramError(f"getMe failed: {exc}") from None
        return Identity(id=user.id, username=user.username or "", first_name=user.first_name)

    async def send_text(
        self, chat_id: int, text: str, parse_mode: models.ParseMode, *, paid: bool = False
    ) -> classify.Outcome:
        """Send one text message; every answer, error or timeout becomes an Outcome."""
        method = SendMessage(
            chat_id=chat_id,
            text=text,
            parse_mode=parse_mode.telegram_name,
            allow_paid_broadcast=True if paid else None,
        )
        try:
            message = await self._call(method)
        except Exception as exc:  # every failure is classified in one place
            return _classified(exc)
        return classify.sent(message.message_id)

    async def _call(self, method: TelegramMethod[T]) -> T:
        """Call through the current route; a network failure rests that route, then re-raises."""
        route = self.routes.current()
        try:
            async with asyncio.timeout(self._timeout_s + 1):
                return await route.bot(method)
        except TelegramEntityTooLarge:
            raise
        except (TelegramNetworkError, TimeoutError, OSError) as exc:
            self.routes.failed(route, f"{type(exc).__name__}: {exc}")
            raise
        except PROXY_ERRORS as exc:
            self.routes.failed(route, f"{type(exc).__name__}: {exc}")
            raise ConnectionError(f"proxy {route.label} failed: {exc}") from exc

    async def close(self) -> None:
        await self.routes.close()


def _classified(error: Exception) -> classify.Outcome:
    """The classifier's verdict; an error it does not know is retried (bounded), not fatal."""
    try:
        return classify.classify(error)
    except Exception:
        log.exception("action=unclassified_error error=%s", type(error).__name__)
        return classify.Outcome(
            classify.Action.RETRY, f"unexpected {type(error).__name__}: {error}"
        )


def client_for(bot: models.Bot, settings: config.Settings) -> BotClient:
    """The client a worker sends through for one bot, with its own or the global proxies."""
    return BotClient(
        bot.token,
        bot.api_url,
        timeout_s=settings.worker.request_timeout_s,
        max_connections=settings.worker.max_in_flight,
        proxies=bot.proxies or settings.telegram.proxies,
        proxy_retry_s=settings.telegram.proxy_retry_s,
    )
