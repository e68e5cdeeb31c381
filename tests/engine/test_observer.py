"""What the engine reports to its observer (the port /metrics is built on), with no registry."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bulletin import config
from bulletin.app import serve as app_serve
from bulletin.db import runs as run_rows
from bulletin.sandbox import Sandbox, World
from tests.support import import_world, register_bot, start_campaign


@dataclass
class Recording:
    """An Observer that keeps every report."""

    sends: list[tuple[str, float]] = field(default_factory=list)
    pauses: list[tuple[str, float]] = field(default_factory=list)
    paces: list[tuple[str, float, float]] = field(default_factory=list)

    def send_answered(self, bot: str, duration_s: float) -> None:
        self.sends.append((bot, duration_s))

    def rate_limited(self, bot: str, paused_s: float) -> None:
        self.pauses.append((bot, paused_s))

    def paced(self, bot: str, rate_per_s: float, limit_per_s: float) -> None:
        self.paces.append((bot, rate_per_s, limit_per_s))


async def test_observer__server_stricter_than_rate__every_send_429_pause_and_pace_reported(
    settings: config.Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = World.generate(150, seed=41)
    sandbox_bot = world.add_bot(rate_per_s=50)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "eager", 100)
        await import_world(pool, world, bot, tmp_path)
        run = await start_campaign(pool, bot, "eager")
        finished = asyncio.Event()
        recording = Recording()
        worker = app_serve.make_worker(
            pool, settings, on_runs_finished=lambda _: finished.set(), observer=recording
        )
        stop = asyncio.Event()
        working = asyncio.create_task(worker.run(stop))
        try:
            async with asyncio.timeout(60):
                await finished.wait()
        finally:
            stop.set()
            await working
        async with pool.acquire() as connection:
            counts = await run_rows.counts(connection, run.id)

    assert counts.sent == 150
    assert len(recording.sends) == sandbox.stats.requests == 150 + counts.rate_limited
    assert all(name == "eager" and duration_s > 0 for name, duration_s in recording.sends)
    assert len(recording.pauses) == sandbox.stats.too_many_requests >= 1
    assert sum(paused_s for _, paused_s in recording.pauses) > 0
    assert any(rate < limit == 100 for _, rate, limit in recording.paces)  # slowed by a 429
    assert recording.paces[-1] == ("eager", 0.0, 0.0)  # the sender ended: it reports no pace
