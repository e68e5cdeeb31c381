"""The HTTP server of `serve`: its flags, and the block the serve loop runs inside."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

import typer

from bulletin import config
from bulletin.cli.output import error_console

if TYPE_CHECKING:  # the API's views are imported by the web server, when serve listens
    from bulletin.app.api_views import Pool

HttpOption = Annotated[
    str | None,
    typer.Option("--http", metavar="HOST:PORT", help="Where the API listens [config: web.listen]"),
]
NoHttpOption = Annotated[bool, typer.Option("--no-http", help="No HTTP server")]


def listen_address(settings: config.Settings, http: str | None, no_http: bool) -> str | None:
    """HOST:PORT to serve HTTP on (the flag, else `[web] listen`), or None for none."""
    return None if no_http else http or settings.web.listen


@contextlib.asynccontextmanager
async def serving_http(
    pool: Pool, settings: config.Settings, listen: str | None
) -> AsyncIterator[None]:
    """The API served for the length of the block (nothing when `listen` is None)."""
    if listen is None:
        yield
        return
    # FastAPI and uvicorn take a while to import: only a serve that listens pays for them.
    from bulletin.web import server

    host, port = server.parse_listen(listen)
    async with server.serving(pool, settings, host, port) as where:
        error_console.print(where, markup=False, highlight=False, soft_wrap=True)
        yield
