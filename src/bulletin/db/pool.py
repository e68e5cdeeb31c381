"""The asyncpg pool: one place that resolves the database URL and translates driver errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import asyncpg

from bulletin import errors
from bulletin.config import Settings
from bulletin.db import embedded, failures

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0

# Errors meaning "the server is away for now": retry later, never crash in a tight loop.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    # A connection left mid-operation by a dropped server; the pool replaces it.
    asyncpg.exceptions.InternalClientError,
)

CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    *TRANSIENT_ERRORS,
    asyncpg.PostgresError,
    ValueError,
)


async def resolve_url(settings: Settings) -> str:
    """The configured database URL, or the embedded cluster's (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return await asyncio.to_thread(embedded.start, settings.embedded_pgdata)


def describe_url(url: str) -> str:
    """host:port/database of a URL, without user or password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "local socket"
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path or ''}"


@contextlib.asynccontextmanager
async def open_pool(settings: Settings, *, max_size: int = 10) -> AsyncIterator[asyncpg.Pool]:
    """A connected pool, or a one-line DatabaseError naming where it could not connect."""
    url = await resolve_url(settings)
    try:
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=max_size, timeout=CONNECT_TIMEOUT_S, command_timeout=60
        )
    except CONNECT_ERRORS as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise errors.DatabaseError(
            f"cannot connect to database at {describe_url(url)}: {reason}"
        ) from exc
    try:
        yield pool
    finally:
        with contextlib.suppress(*TRANSIENT_ERRORS):
            await asyncio.wait_for(pool.close(), timeout=5)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Driver errors meaning "the server is away for now" raised as DatabaseUnavailable.

    The one place they are translated: nothing past db/ knows asyncpg's errors, and the
    driver's stays as the __cause__ for whoever debugs.
    """
    try:
        yield
    except TRANSIENT_ERRORS as exc:
        raise failures.unavailable(exc) from exc


Pool = asyncpg.Pool


@contextlib.asynccontextmanager
async def connection(pool: Pool) -> AsyncIterator[PoolConnectionProxy[Any]]:
    """A pooled connection that is dropped, not reused, after a transient failure, which
    is raised as DatabaseUnavailable.

    A server that went away can leave a connection mid-operation; handed to the next
    caller it would fail forever ("another operation is in progress"). And once the work
    is done, a failure to hand the connection back (its reset meets the dead server) is
    the pool's business, not the caller's: raising it would throw away a result the
    database has already committed — a claim's rows, say, left `sending` for good.
    """
    with translated():
        acquired = await pool.acquire()
    try:
        with translated():
            yield acquired
    except errors.DatabaseUnavailable:
        # The connection may already be closed and detached from its proxy.
        with contextlib.suppress(asyncpg.exceptions.InterfaceError):
            acquired.terminate()
        raise
    finally:
        try:
            await pool.release(acquired)
        except TRANSIENT_ERRORS as exc:  # asyncpg has terminated that connection
            log.warning("action=connection_release_failed error=%s", exc)
