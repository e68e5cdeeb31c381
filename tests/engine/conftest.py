"""Engine fixtures: a pool on a fresh database and an in-process sandbox over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from bulletin import config
from bulletin.db.pool import open_pool


@pytest.fixture
async def pool(settings: config.Settings) -> AsyncIterator[asyncpg.Pool]:
    async with open_pool(settings, max_size=10) as opened:
        yield opened
