"""Ways to reach the Bot API: direct or through proxies, with failover on network errors only."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bulletin import errors, redact
from bulletin.redact import DIRECT, mask_proxy

log = logging.getLogger(__name__)


@dataclass
class Route:
    """One way to reach the API: an aiogram Bot on a session direct or through one proxy."""

    label: str
    bot: Bot
    down_until: float = 0.0


class Routes:
    """Routes in order of preference; a route that fails at the network level rests a while.

    Switching happens only on connectivity failures, never on Telegram's answers (429,
    403 …): proxies exist to reach Telegram, not to get around its limits.
    """

    def __init__(
        self,
        token: str,
        api_url: str,
        proxies: Sequence[str],
        *,
        timeout_s: float,
        max_connections: int,
        retry_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        api = TelegramAPIServer.from_base(api_url.rstrip("/"))
        for proxy in proxies:
            try:  # saved before proxies were checked, or set in a config file
                redact.check_proxy(proxy)
            except ValueError as exc:
                raise errors.ConfigError(str(exc)) from None
        self.secrets = redact.secrets_of(token, proxies)
        self._routes = [
            Route(
                mask_proxy(proxy),
                Bot(token, session=_session(api, proxy, max_connections, timeout_s)),
            )
            for proxy in (proxies or [DIRECT])
        ]
        self._retry_s = retry_s
        self._clock = clock

    @property
    def labels(self) -> list[str]:
        return [route.label for route in self._routes]

    def current(self) -> Route:
        """The most preferred route that is not resting (or the one resting least long)."""
        now = self._clock()
        for route in self._routes:
            if route.down_until <= now:
                return route
        return min(self._routes, key=lambda route: route.down_until)

    def failed(self, route: Route, reason: str) -> None:
        if len(self._routes) == 1:
            return
        route.down_until = self._clock() + self._retry_s
        log.warning(
            "action=route_down route=%s retry_in_s=%.0f next=%s reason=%s",
            route.label,
            self._retry_s,
            self.current().label,
            redact.text(reason, self.secrets),
        )

    async def close(self) -> None:
        for route in self._routes:
            await route.bot.session.close()


def _session(
    api: TelegramAPIServer, proxy: str, max_connections: int, timeout_s: float
) -> AiohttpSession:
    session = AiohttpSession(
        api=api, limit=max_connections, proxy=None if proxy == DIRECT else proxy
    )
    session.timeout = timeout_s
    return session
