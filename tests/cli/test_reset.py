"""`bulletin db reset`: a development database back to a clean slate, only when asked twice."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from bulletin.db import migrations
from tests.support import run_cli

BOT_ID = 7_200_000_001


@pytest.fixture
async def db(cli_env: dict[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(
        cli_env["BULLETIN_DATABASE_URL"], min_size=1, max_size=2
    ) as pool:
        await pool.execute(
            "INSERT INTO bots (id, name, username, token, api_url) VALUES ($1, 'dev', 'dev', $2, $3)",
            BOT_ID,
            f"{BOT_ID}:secret",
            "http://127.0.0.1:9",
        )
        yield pool


async def bots(db: asyncpg.Pool) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM bots")
    return count


async def test_reset__yes__every_row_gone_every_migration_applied(
    cli_env: dict[str, str], db: asyncpg.Pool
) -> None:
    await db.execute("CREATE TABLE scratch (n int)")  # left by some experiment

    code, out, err = await run_cli("db", "reset", "--yes", env=cli_env)

    assert code == 0, err
    assert f"{len(migrations.available())} migrations applied" in out
    assert await bots(db) == 0
    assert await db.fetchval("SELECT to_regclass('scratch')") is None
    async with db.acquire() as connection:
        await migrations.check(connection)  # the schema is this code's
    code, out, err = await run_cli("bot", "list", "--json", env=cli_env)
    assert code == 0, err


async def test_reset__without_yes__refused_nothing_dropped(
    cli_env: dict[str, str], db: asyncpg.Pool
) -> None:
    code, _, err = await run_cli("db", "reset", env=cli_env)

    assert code != 0
    assert err == "error: db reset erases every bot, subscriber and run: pass --yes\n"
    assert await bots(db) == 1


async def test_reset__a_serve_holds_leases__refused_unless_forced(
    cli_env: dict[str, str], db: asyncpg.Pool
) -> None:
    await db.execute(
        "INSERT INTO bot_leases (bot_id, worker_id, expires_at) "
        "VALUES ($1, 'serve-1', now() + interval '1 minute')",
        BOT_ID,
    )

    code, _, err = await run_cli("db", "reset", "--yes", env=cli_env)

    assert code != 0
    assert err == (
        "error: a running serve holds 1 bot lease(s): stop it first, "
        "or pass --force to reset anyway\n"
    )
    assert await bots(db) == 1

    code, _, err = await run_cli("db", "reset", "--yes", "--force", env=cli_env)

    assert code == 0, err
    assert await bots(db) == 0


async def test_reset__another_connection_holds_a_table__refused_nothing_dropped(
    cli_env: dict[str, str], db: asyncpg.Pool
) -> None:
    async with db.acquire() as connection, connection.transaction():
        await connection.execute("LOCK TABLE subscribers IN ACCESS SHARE MODE")

        code, _, err = await run_cli("db", "reset", "--yes", env=cli_env)

    assert code != 0
    assert err == (
        "error: database in use: another connection holds bulletin's tables "
        "(stop `bulletin serve` and other commands, then reset again)\n"
    )
    assert await bots(db) == 1
    assert await db.fetchval("SELECT to_regclass('schema_migrations')") is not None
