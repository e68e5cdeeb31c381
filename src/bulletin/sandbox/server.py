"""The sandbox server: the Bot API and control API on one aiohttp app."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

from bulletin.sandbox import answers
from bulletin.sandbox.actions import Actions
from bulletin.sandbox.control import ControlApi
from bulletin.sandbox.faults import Faults
from bulletin.sandbox.files import UPLOAD_LIMIT, Upload
from bulletin.sandbox.ledger import LedgerEntry, Stats
from bulletin.sandbox.limits import Limiter
from bulletin.sandbox.methods import BotApi, Params
from bulletin.sandbox.updates import Updates
from bulletin.sandbox.webhook import WebhookSender
from bulletin.sandbox.world import World

SHUTDOWN_TIMEOUT_S = 0.5


class Sandbox:
    """A local Bot API server that behaves like api.telegram.org."""

    def __init__(
        self,
        world: World,
        *,
        faults: Faults | None = None,
        unlimited: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limiter = Limiter(unlimited=unlimited, clock=clock)
        self.api = BotApi(world, faults or Faults(), self.limiter)
        self.actions = Actions(world, self.api.updates)
        self.webhooks = WebhookSender(self.api.updates)
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._delivering: asyncio.Task[None] | None = None

    @property
    def world(self) -> World:
        """The bots and chats this sandbox answers for."""
        return self.api.world

    @property
    def updates(self) -> Updates:
        """Every bot's queued updates and webhook."""
        return self.api.updates

    @property
    def ledger(self) -> list[LedgerEntry]:
        """Every message accepted so far, in order."""
        return self.api.ledger

    @property
    def stats(self) -> Stats:
        """The request counters."""
        return self.api.stats

    @property
    def faults(self) -> Faults:
        """The fault rates in force."""
        return self.api.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self.api.faults = faults

    def application(self) -> web.Application:
        """Build the aiohttp application serving both APIs."""
        application = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        application.add_routes(ControlApi(self.api, self.actions).routes())
        application.add_routes([web.route("*", "/bot{token}/{method}", self._bot_method)])
        return application

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host and port (0 picks a free one) and return the base URL."""
        runner = web.AppRunner(
            self.application(), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._delivering = asyncio.create_task(self.webhooks.run())
        bound_port = runner.addresses[0][1]
        self.url = f"http://{host}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        """Stop serving and close open connections."""
        if self._delivering is not None:
            self._delivering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivering
            self._delivering = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exception_type: type[BaseException] | None,
        exception: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _bot_method(self, request: web.Request) -> web.Response:
        try:
            params = await _params(request)
        except ValueError:
            error = answers.bad_request("can't parse request body")
            return web.json_response(error.envelope(), status=error.error_code)
        token, method = request.match_info["token"], request.match_info["method"]
        outcome = self.api.call(token, method, params)
        if outcome.poll is not None:
            outcome = await self.api.finish_poll(outcome.poll)
        if outcome.delay_s > 0:
            await _hold(request, outcome.delay_s, outcome.entry)
        return web.json_response(outcome.body, status=outcome.status)


async def _hold(request: web.Request, delay_s: float, entry: LedgerEntry | None) -> None:
    """Delay an answer; an entry counts as answered only if its client is still there."""
    if entry is not None:
        entry.answered = False
    await asyncio.sleep(delay_s)
    transport = request.transport
    if entry is not None:
        entry.answered = transport is not None and not transport.is_closing()


async def _params(request: web.Request) -> Params:
    """Merge the query string with a multipart, urlencoded or JSON body."""
    params: dict[str, object] = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("JSON body is not an object")
        params.update(body)
        return params
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, str):
            params[key] = value
        elif isinstance(value, web.FileField):
            params[key] = Upload(key, value.filename, value.file.read())
    return params


async def run_forever(
    world: World,
    host: str = "127.0.0.1",
    port: int = 8081,
    faults: Faults | None = None,
    unlimited: bool = False,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve a sandbox until cancelled, calling ready with its URL once it listens."""
    sandbox = Sandbox(world, faults=faults, unlimited=unlimited)
    url = await sandbox.start(host, port)
    try:
        if ready is not None:
            ready(url)
        await asyncio.Event().wait()
    finally:
        await sandbox.stop()
