"""db/sql/schema.sql says what the migrations build: applied to empty databases, the same."""

from __future__ import annotations

import difflib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib import resources

import asyncpg
import pytest

from bulletin.db import migrations
from tests.conftest import with_database
from tests.db.catalog import catalog

EmptyDatabase = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


@pytest.fixture
def empty_database(admin_url: str) -> EmptyDatabase:
    """A new empty database each time it is entered, dropped on leaving."""

    @asynccontextmanager
    async def create() -> AsyncIterator[asyncpg.Connection]:
        name = f"bulletin_schema_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            connection = await asyncpg.connect(with_database(admin_url, name))
            try:
                yield connection
            finally:
                await connection.close()
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    return create


def schema_sql() -> str:
    return (resources.files("bulletin.db") / "sql" / "schema.sql").read_text("utf-8")


async def test_schema_sql__every_migration_applied__same_catalog(
    empty_database: EmptyDatabase,
) -> None:
    async with empty_database() as migrated, empty_database() as declared:
        await migrations.apply(migrated)
        await declared.execute(schema_sql())
        after_migrations = await catalog(migrated)
        in_schema_sql = await catalog(declared)

    diff = difflib.unified_diff(
        after_migrations, in_schema_sql, "after the migrations", "schema.sql", lineterm="", n=0
    )
    assert after_migrations == in_schema_sql, "schema.sql differs:\n" + "\n".join(diff)


async def test_catalog__a_default_changed__the_difference_seen(
    empty_database: EmptyDatabase,
) -> None:
    """The comparison is not blind: one default changed is one line of difference."""
    async with empty_database() as database:
        await database.execute(schema_sql())
        before = await catalog(database)
        await database.execute("ALTER TABLE bots ALTER COLUMN rate_per_s SET DEFAULT 25")
        after = await catalog(database)

    assert set(before) ^ set(after) == {
        "column bots.rate_per_s double precision NOT NULL DEFAULT 30",
        "column bots.rate_per_s double precision NOT NULL DEFAULT 25",
    }
