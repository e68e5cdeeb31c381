"""Updates pushed by Telegram: one aiohttp route per bot, its secret checked, its webhook managed."""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Sequence

import pydantic
from aiogram import types
from aiogram.exceptions import TelegramAPIError
from aiohttp import web

from bulletin.telegram.listener import Listener
from bulletin.telegram.signals import ALLOWED_UPDATES

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ROUTE = "/telegram/{bot_id}"
SHUTDOWN_TIMEOUT_S = 2.0
MAX_DEPTH = 32  # Telegram's updates nest about ten levels
BIGINT = 2**63  # every id is stored as a PostgreSQL bigint


class WebhookServer:
    """Receives every listener's updates on one aiohttp application."""

    def __init__(self, listeners: Sequence[Listener], base_url: str = "") -> None:
        self._listeners = {listener.bot.id: listener for listener in listeners}
        self.base_url = base_url.rstrip("/")

    def url_for(self, listener: Listener) -> str:
        """The public URL Telegram posts this bot's updates to."""
        return self.base_url + ROUTE.format(bot_id=listener.bot.id)

    def routes(self) -> list[web.RouteDef]:
        return [web.post(ROUTE, self.receive)]

    async def receive(self, request: web.Request) -> web.Response:
        """Apply one pushed update; any answer but 2xx makes Telegram send it again."""
        listener = self._listeners.get(_bot_id(request))
        if listener is None:
            raise web.HTTPNotFound()
        if not _secret_matches(request.headers.get(SECRET_HEADER, ""), listener.secret_token):
            log.warning("action=webhook_refused bot=%s reason=bad_secret", listener.bot.name)
            raise web.HTTPUnauthorized()
        try:
            update = types.Update.model_validate(_checked(await request.json()))
        except (ValueError, RecursionError, pydantic.ValidationError) as error:
            # Sending it again would not make it readable: accept and log it.
            log.error("action=update_unreadable bot=%s error=%.200s", listener.bot.name, error)
            return web.Response()
        await listener.handle(update)  # a failure answers 500: Telegram sends it again
        return web.Response()

    async def register(self) -> None:
        """setWebhook for every bot, with its secret and the update kinds the rules need."""
        for listener in self._listeners.values():
            await listener.client.set_webhook(
                self.url_for(listener), listener.secret_token, ALLOWED_UPDATES
            )
            log.info("action=webhook_set bot=%s url=%s", listener.bot.name, self.url_for(listener))

    async def unregister(self) -> None:
        """deleteWebhook for every bot; pending updates wait for the next listener."""
        for listener in self._listeners.values():
            try:
                await listener.client.delete_webhook()
            except (TelegramAPIError, TimeoutError, OSError) as error:
                log.warning("action=webhook_delete_failed bot=%s error=%s", listener.bot.name,
                            error)  # fmt: skip


@contextlib.asynccontextmanager
async def serving(
    listeners: Sequence[Listener], base_url: str | None, host: str, port: int
) -> AsyncIterator[WebhookServer]:
    """Serve the webhook routes on host:port and point every bot's webhook at base_url.

    base_url is the public address Telegram reaches (often a reverse proxy's); without
    one, the address bound here is used, which suits a local Bot API server or sandbox.
    """
    server = WebhookServer(listeners)
    application = web.Application()
    application.add_routes(server.routes())
    runner = web.AppRunner(application, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        server.base_url = (base_url or f"http://{host}:{runner.addresses[0][1]}").rstrip("/")
        await server.register()
        try:
            yield server
        finally:
            await server.unregister()
    finally:
        await runner.cleanup()


def _bot_id(request: web.Request) -> int:
    try:
        return int(request.match_info["bot_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


def _secret_matches(header: str, expected: str) -> bool:
    """Constant-time compare; a header that is not even text (surrogates) is just wrong."""
    try:
        given = header.encode()
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(given, expected.encode())


def _checked(document: object) -> object:
    """document if it nests at most MAX_DEPTH deep, every integer fits a bigint and no
    text holds a NUL (PostgreSQL's text cannot): what the store would refuse on every retry."""
    pending: list[tuple[object, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH}")
        if isinstance(value, dict):
            pending += [(item, depth + 1) for item in value.values()]
        elif isinstance(value, list):
            pending += [(item, depth + 1) for item in value]
        elif isinstance(value, int) and not -BIGINT <= value < BIGINT:
            raise ValueError("a number beyond bigint")
        elif isinstance(value, str) and "\x00" in value:
            raise ValueError("a NUL character in a text")
    return document
