"""Numbered SQL migrations: applied by `bulletin init`, checked at every start."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from bulletin import errors
from bulletin.db.connection import Connection

MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LOCK_KEY = 0x62756C6C  # advisory lock serialising concurrent `init`s


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """Every migration shipped with this version, in order."""
    folder = resources.files("bulletin.db") / "sql" / "migrations"
    found = []
    for entry in folder.iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    return sorted(found, key=lambda migration: migration.version)


def latest_version() -> int:
    return available()[-1].version


async def applied_versions(connection: Connection) -> set[int] | None:
    """Every applied migration, or None when the database has no bulletin schema."""
    exists = await connection.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return None
    rows = await connection.fetch("SELECT version FROM schema_migrations")
    return {row["version"] for row in rows}


async def applied_version(connection: Connection) -> int | None:
    """The newest applied migration, or None when the database has no bulletin schema."""
    versions = await applied_versions(connection)
    return max(versions, default=0) if versions is not None else None


async def apply(connection: Connection) -> list[Migration]:
    """Apply the missing migrations, each in its own transaction; return those applied."""
    await connection.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await connection.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = await applied_versions(connection) or set()
        _refuse_newer(max(applied, default=0))
        done = []
        # By membership, not by "newer than the newest": a migration numbered below one
        # already applied (merged from a parallel branch) is still applied.
        for migration in available():
            if migration.version in applied:
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            done.append(migration)
        return done
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def check(connection: Connection) -> None:
    """Refuse to run against a missing, older or newer schema than this code's."""
    applied = await applied_versions(connection)
    if applied is None:
        raise errors.SchemaMissing()
    _refuse_newer(max(applied, default=0))
    missing = sorted({m.version for m in available()} - applied)
    if missing:
        raise errors.DatabaseError(
            f"database schema lacks migration(s) {', '.join(f'{v:04d}' for v in missing)}: "
            "run `bulletin init` to migrate"
        )


def _refuse_newer(current: int) -> None:
    if current > latest_version():
        raise errors.SchemaTooNew(
            f"database schema version {current} is newer than this bulletin "
            f"(knows up to {latest_version()}); upgrade bulletin"
        )
