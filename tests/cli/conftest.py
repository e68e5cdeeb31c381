"""CLI fixtures: a sandbox with one bot and no audience, for commands that bring their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bulletin.sandbox import Sandbox, World


@pytest.fixture
async def bare_sandbox() -> AsyncIterator[Sandbox]:
    world = World.generate(0, seed=12)
    world.add_bot(rate_per_s=200)
    async with Sandbox(world) as running:
        yield running
