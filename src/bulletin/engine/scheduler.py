"""The scheduler: one leader across every `serve` process starts due runs and keeps quiet hours."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from bulletin import errors
from bulletin.db.schedules import Started

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Leader(Protocol):
    async def confirm(self) -> None:
        """Raise if leadership was lost (its connection is gone)."""


class Schedules(Protocol):
    def leadership(self) -> contextlib.AbstractAsyncContextManager[Leader | None]: ...

    async def due(self, now: datetime) -> list[int]: ...

    async def start_due(self, campaign_id: int, now: datetime) -> Started | None: ...

    async def hold_quiet_runs(self, now: datetime) -> tuple[list[int], list[int]]: ...


class Scheduler:
    """Starts the runs schedules ask for, once each, whichever process leads."""

    def __init__(
        self,
        store: Schedules,
        *,
        clock: Callable[[], datetime] = utc_now,
        tick_s: float = 1.0,
        retry_s: float = 5.0,
        on_started: Callable[[Started], None] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._tick_s = tick_s
        self._retry_s = retry_s
        self._on_started = on_started
        self.leading = False
        self.led = asyncio.Event()  # set once this scheduler has led

    async def run(self, stop: asyncio.Event) -> None:
        """Try to lead until stopped; while leading, tick every tick_s."""
        while not stop.is_set():
            try:
                async with self._store.leadership() as leader:
                    if leader is not None:
                        await self._lead(stop, leader)
            except errors.DatabaseUnavailable as exc:
                log.warning("action=scheduler_lost_database error=%s", exc)
            finally:
                self.leading = False
            await _wait(stop, self._retry_s)

    async def tick(self, now: datetime | None = None) -> list[Started]:
        """One pass: start every due run, then pause or wake runs for quiet hours."""
        now = now or self._clock()
        started = []
        for campaign_id in await self._store.due(now):
            result = await self._store.start_due(campaign_id, now)
            if result is not None:
                started.append(result)
                self._report(result)
        quieted, woken = await self._store.hold_quiet_runs(now)
        if quieted or woken:
            log.info("action=quiet_hours paused_runs=%s resumed_runs=%s", quieted, woken)
        return started

    async def _lead(self, stop: asyncio.Event, leader: Leader) -> None:
        log.info("action=scheduler_leading")
        self.leading = True
        self.led.set()
        while not stop.is_set():
            await leader.confirm()
            await self.tick()
            await _wait(stop, self._tick_s)

    def _report(self, started: Started) -> None:
        if started.run is not None:
            log.info(
                "action=run_scheduled campaign=%s run_id=%s audience=%s",
                started.run.campaign_name,
                started.run.id,
                started.run.audience,
            )
        else:
            log.error(
                "action=campaign_paused campaign_id=%s reason=%s",
                started.campaign_id,
                started.paused_reason,
            )
        if self._on_started is not None:
            self._on_started(started)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()
