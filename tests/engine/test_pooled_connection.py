"""db.pool.connection: what a caller gets when the database fails around its work."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from bulletin.db.pool import connection


class ReleaseFails:
    """A pool whose hand-back fails after the work is done, as when the server dies between
    a query's answer and the pool's reset of the connection."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    def acquire(self) -> Any:
        return self._pool.acquire()

    async def release(self, proxy: Any) -> None:
        await self._pool.release(proxy)
        raise asyncpg.exceptions.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        )


async def test_release_fails_after_the_work__result_kept_and_no_error(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """A claim whose rows came back must not be thrown away because the hand-back failed:
    its deliveries would stay `sending`, claimed by a live worker that never saw them."""
    async with connection(ReleaseFails(pool)) as acquired:  # type: ignore[arg-type]
        value = await acquired.fetchval("SELECT 41 + 1")

    assert value == 42
    assert "action=connection_release_failed" in caplog.text


async def _fail_in_the_work(pool: asyncpg.Pool, error: Exception, *, closed: bool) -> int:
    async with connection(pool) as acquired:
        pid: int = acquired.get_server_pid()
        if closed:
            acquired.terminate()  # the server went away: the proxy is already detached
        raise error
    return pid  # never reached


async def test_transient_failure_in_the_work__connection_dropped_and_error_raised(
    pool: asyncpg.Pool,
) -> None:
    async with connection(pool) as first:
        pid = first.get_server_pid()
    gone = asyncpg.exceptions.ConnectionDoesNotExistError("gone")

    with pytest.raises(asyncpg.exceptions.ConnectionDoesNotExistError):
        await _fail_in_the_work(pool, gone, closed=False)

    async with connection(pool) as fresh:
        assert fresh.get_server_pid() != pid  # the failed one was not handed out again


async def test_failure_after_the_connection_closed__the_original_error_raised(
    pool: asyncpg.Pool,
) -> None:
    shutdown = asyncpg.exceptions.AdminShutdownError("terminating connection")

    with pytest.raises(asyncpg.exceptions.AdminShutdownError):
        await _fail_in_the_work(pool, shutdown, closed=True)
