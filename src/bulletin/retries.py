"""Waiting out a database that is away for a moment, for db/ and engine/ alike."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bulletin import errors

log = logging.getLogger(__name__)

T = TypeVar("T")


async def retrying(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    stop: asyncio.Event | None = None,
    max_delay_s: float = 5.0,
    tries: int | None = None,
) -> T:
    """Run operation until it gets past DatabaseUnavailable, backing off between tries
    (0.1 s, doubling); the last error is raised once stop is set or after `tries` tries."""
    delay_s = 0.1
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except errors.DatabaseUnavailable as exc:
            if (stop is not None and stop.is_set()) or attempt == tries:
                raise
            log.warning("action=db_retry what=%s error=%s delay_s=%.1f", what, exc, delay_s)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, max_delay_s)
