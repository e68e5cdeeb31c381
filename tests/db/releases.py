"""A database of an earlier release: an empty database migrated up to, not including, one
migration, so that a test can seed it and see that migration apply to real rows."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg

from bulletin.db import migrations
from tests.conftest import with_database


@contextlib.asynccontextmanager
async def migrated_before(admin_url: str, version: int) -> AsyncIterator[asyncpg.Connection]:
    """A fresh database with every migration before `version` applied and recorded."""
    name = f"bulletin_migration_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    connection = await asyncpg.connect(with_database(admin_url, name))
    try:
        await connection.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in migrations.available():
            if migration.version < version:
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
        yield connection
    finally:
        await connection.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
