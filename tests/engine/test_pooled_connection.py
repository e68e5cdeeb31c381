"""db.pool.connection and the stores: what a caller gets when the database fails around its work."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from bulletin import errors
from bulletin.db.deliveries import DeliveryStore
from bulletin.db.pool import connection
from bulletin.retries import retrying


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

    with pytest.raises(errors.DatabaseUnavailable) as raised:
        await _fail_in_the_work(pool, gone, closed=False)
    assert raised.value.__cause__ is gone

    async with connection(pool) as fresh:
        assert fresh.get_server_pid() != pid  # the failed one was not handed out again


async def test_failure_after_the_connection_closed__the_original_error_kept_as_cause(
    pool: asyncpg.Pool,
) -> None:
    shutdown = asyncpg.exceptions.AdminShutdownError("terminating connection")

    with pytest.raises(errors.DatabaseUnavailable) as raised:
        await _fail_in_the_work(pool, shutdown, closed=True)
    assert raised.value.__cause__ is shutdown


async def test_query_error_in_the_work__raised_as_the_driver_said(pool: asyncpg.Pool) -> None:
    """Only "the server is away" is translated: a refused query is a bug to see as it is."""
    with pytest.raises(asyncpg.exceptions.UndefinedTableError):
        async with connection(pool) as acquired:
            await acquired.fetchval("SELECT * FROM no_such_table")


async def test_store_method__database_unreachable__database_unavailable_with_the_cause() -> None:
    """Past db/, a database that is away is bulletin's one error, whatever the driver said."""
    unreachable = await asyncpg.create_pool(
        "postgresql://postgres@127.0.0.1:1/postgres", min_size=0, max_size=1, timeout=2
    )
    try:
        with pytest.raises(errors.DatabaseUnavailable, match="unreachable") as raised:
            await DeliveryStore(unreachable).revoked_bots_with_work()
    finally:
        await unreachable.close()
    assert isinstance(raised.value.__cause__, OSError)


async def test_retrying__database_back_after_two_failures__the_answer() -> None:
    failures = [errors.DatabaseUnavailable("away"), errors.DatabaseUnavailable("away")]

    async def operation() -> int:
        if failures:
            raise failures.pop()
        return 42

    assert await retrying(operation, what="test") == 42


async def test_retrying__still_away_after_its_tries__the_last_error_raised() -> None:
    calls = 0

    async def operation() -> int:
        nonlocal calls
        calls += 1
        raise errors.DatabaseUnavailable(f"away {calls}")

    with pytest.raises(errors.DatabaseUnavailable, match="away 2"):
        await retrying(operation, what="test", tries=2)
