"""Driver errors said in one line: the one place that knows what asyncpg's mean."""

from __future__ import annotations

import asyncpg

from bulletin import errors


def describe(error: BaseException) -> str | None:
    """One line for an asyncpg error (what the server or the driver said), else None."""
    if isinstance(error, asyncpg.PostgresError):
        return f"the database refused the request ({error.sqlstate}): {_first_line(error)}"
    if isinstance(error, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError):
        return f"lost the database connection: {_first_line(error)}"
    return None


def unavailable(error: BaseException) -> errors.DatabaseUnavailable:
    """bulletin's error for a driver error meaning the server is away for now."""
    return errors.DatabaseUnavailable(f"the database is unreachable: {_first_line(error)}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
