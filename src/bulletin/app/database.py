"""The database as the interfaces see it: a checked pool, the schema, the embedded server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bulletin import config
from bulletin.db import embedded, migrations
from bulletin.db.pool import Pool, describe_url, open_pool, resolve_url

__all__ = [
    "Initialised",
    "Pool",
    "database",
    "initialise",
    "migrate",
    "start_embedded",
    "stop_embedded",
    "where",
]


@contextlib.asynccontextmanager
async def database(
    settings: config.Settings, *, check_schema: bool = True, max_size: int = 10
) -> AsyncIterator[Pool]:
    """A pool on the configured (or embedded) database whose schema matches this code."""
    async with open_pool(settings, max_size=max_size) as pool:
        if check_schema:
            async with pool.acquire() as connection:
                await migrations.check(connection)
        yield pool


@dataclass(frozen=True, slots=True)
class Initialised:
    """What `bulletin init` did: where, the schema version now, the migrations applied."""

    where: str
    version: int
    applied: tuple[str, ...]


async def initialise(settings: config.Settings) -> Initialised:
    """Create or migrate bulletin's tables."""
    url = await resolve_url(settings)
    async with database(settings, check_schema=False) as pool:
        applied = await migrate(pool)
    return Initialised(describe_url(url), migrations.latest_version(), applied)


async def migrate(pool: Pool) -> tuple[str, ...]:
    """Apply the migrations this database lacks; their names."""
    async with pool.acquire() as connection:
        applied = await migrations.apply(connection)
    return tuple(f"{m.version:04d}_{m.name}" for m in applied)


async def where(settings: config.Settings) -> str:
    """The database the settings point at, password masked (starts the embedded one if needed)."""
    return describe_url(await resolve_url(settings))


def start_embedded(settings: config.Settings) -> str:
    """Start the embedded PostgreSQL; its URL."""
    return embedded.start(settings.embedded_pgdata)


def stop_embedded(settings: config.Settings) -> bool:
    """Stop the embedded PostgreSQL; False if it was not running."""
    return embedded.stop(settings.embedded_pgdata)
