"""The Bot API client: aiogram's Bot pointed at any API server, answers turned into Outcomes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from aiogram import Bot, types
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetMe, TelegramMethod
from aiogram.methods.base import Response
from aiogram.utils.token import TokenValidationError, validate_token
from aiohttp_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

from bulletin import config, errors, models, redact
from bulletin.telegram import classify, messages
from bulletin.telegram.routes import Routes

log = logging.getLogger(__name__)

T = TypeVar("T")

# aiohttp-socks raises its own errors for a proxy that refuses or times out; they are
# connectivity failures like any other, so the delivery is retried and the route rests.
PROXY_ERRORS = (ProxyConnectionError, ProxyError, ProxyTimeoutError)

# aiogram parses every answer as Response[<return type>]. pydantic caches such generic
# models weakly, so between answers the class can be collected and rebuilt (a schema
# walk each time: a fifth of a worker's CPU). Holding them keeps the cache warm.
_RESPONSE_MODELS = tuple(
    Response[returned]  # type: ignore[valid-type]
    for returned in (
        types.Message,
        list[types.Message],
        types.MessageId,
        types.User,
        list[types.Update],
        types.File,
        bool,
    )
)

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
        self._api_url = api_url
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
        except ClientDecodeError as exc:  # a web server, not a Bot API, answers at that URL
            answer = " ".join(str(exc.data).split())[:80]
            raise errors.TelegramError(
                f"getMe failed: {self._api_url} answered {answer!r}, not Bot API JSON"
            ) from None
        return Identity(id=user.id, username=user.username or "", first_name=user.first_name)

    async def send(
        self, chat_id: int, message: models.Message, *, paid: bool = False
    ) -> classify.Outcome:
        """Send one rendered message of any kind; every answer or failure becomes an Outcome."""
        try:
            message_id, file_ids = await self._through_route(
                lambda bot: messages.send(bot, chat_id, message, paid=paid)
            )
        except Exception as exc:  # every failure is classified in one place
            return _classified(exc)
        return classify.sent(message_id, file_ids)

    async def get_file(self, file_id: str) -> classify.Outcome:
        """Ask whether a file_id names a file of this bot's (the pre-flight check of media)."""
        try:
            await self._through_route(lambda bot: bot.get_file(file_id))
        except Exception as exc:  # every failure is classified in one place
            return _classified(exc)
        return classify.Outcome(classify.Action.SENT)

    async def _call(self, method: TelegramMethod[T]) -> T:
        return await self._through_route(lambda bot: bot(method))

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no text of this client's may show: the token, proxy credentials."""
        return self.routes.secrets

    async def _through_route(
        self, call: Callable[[Bot], Awaitable[T]], *, timeout_s: float | None = None
    ) -> T:
        """Call through the current route; every error leaves with its secrets masked."""
        try:
            return await self._on_route(call, timeout_s)
        except Exception as exc:
            raise redact.error(exc, self.secrets) from None

    async def _on_route(self, call: Callable[[Bot], Awaitable[T]], timeout_s: float | None) -> T:
        """Call through the current route; a network failure rests that route, then re-raises."""
        route = self.routes.current()
        try:
            if timeout_s is None:
                # The session's own timeout (aiohttp's) bounds the call: no second timer.
                return await call(route.bot)
            async with asyncio.timeout(timeout_s):
                return await call(route.bot)
        except TelegramEntityTooLarge:
            raise
        except (TelegramNetworkError, TimeoutError, OSError) as exc:
            self.routes.failed(route, f"{type(exc).__name__}: {exc}")
            raise
        except PROXY_ERRORS as exc:
            self.routes.failed(route, f"{type(exc).__name__}: {exc}")
            raise ConnectionError(f"proxy {route.label} failed: {exc}") from exc

    async def get_updates(
        self, offset: int, timeout_s: int, allowed_updates: list[str]
    ) -> list[types.Update]:
        """Long-poll for updates from offset on; aiogram's errors are left to the caller."""
        return await self._through_route(
            lambda bot: bot.get_updates(
                offset=offset,
                timeout=timeout_s,
                allowed_updates=allowed_updates,
                request_timeout=int(timeout_s + self._timeout_s),
            ),
            timeout_s=timeout_s + self._timeout_s + 1,
        )

    async def set_webhook(self, url: str, secret_token: str, allowed_updates: list[str]) -> None:
        """Ask Telegram to push updates to url, signed with secret_token."""
        await self._through_route(
            lambda bot: bot.set_webhook(
                url, secret_token=secret_token, allowed_updates=allowed_updates
            )
        )

    async def delete_webhook(self) -> None:
        """Stop pushing updates; pending ones wait for getUpdates (or the next webhook)."""
        await self._through_route(lambda bot: bot.delete_webhook(drop_pending_updates=False))

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


def client_for(
    bot: models.Bot, settings: config.Settings, *, timeout_s: float | None = None
) -> BotClient:
    """The client for one bot, through its own proxies or the global ones."""
    return BotClient(
        bot.token,
        bot.api_url,
        timeout_s=timeout_s or settings.worker.request_timeout_s,
        max_connections=settings.worker.max_in_flight,
        proxies=bot.proxies or settings.telegram.proxies,
        proxy_retry_s=settings.telegram.proxy_retry_s,
    )
