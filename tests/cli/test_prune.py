"""`bulletin db prune`: old runs lose their deliveries, nothing an operator reads is lost.

Each test runs a small one-shot campaign to the end through the CLI against the sandbox,
prunes as an operator would, and checks what stays: `campaign status` figures, daily
stats, consent, and the rule that a one-shot campaign never re-sends to a chat that had it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bulletin.app import dashboard
from bulletin.sandbox import Sandbox, World
from tests.support import ledger_counts, register_bot, run_cli

RATE = 500.0
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    world = World.generate(40, blocked=0.1, gone=0.1, seed=77)
    world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as running:
        yield running


@pytest.fixture
async def db(cli_env: dict[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(
        cli_env["BULLETIN_DATABASE_URL"], min_size=1, max_size=2
    ) as pool:
        yield pool


@pytest.fixture
async def env(
    sandbox: Sandbox, cli_env: dict[str, str], db: asyncpg.Pool, tmp_path: Path
) -> dict[str, str]:
    """A registered bot `news`, its audience imported, a one-shot campaign `hello`."""
    bot = next(iter(sandbox.world.bots.values()))
    await register_bot(db, sandbox, bot, "news", RATE)
    audience = tmp_path / "people.csv"
    sandbox.world.write_audience_csv(audience)
    await cli("audience", "import", str(audience), "--bot", "news", env=cli_env)
    await create(cli_env, "hello")
    return cli_env


async def cli(*args: str, env: dict[str, str]) -> str:
    code, out, err = await run_cli(*args, env=env)
    assert code == 0, err
    return out


async def create(env: dict[str, str], name: str) -> None:
    await cli("campaign", "create", name, "--bot", "news", "--text", "Hi {{ first_name }}", env=env)


async def status(env: dict[str, str], name: str = "hello", number: int = 1) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        await cli("campaign", "status", name, "--run", str(number), "--json", env=env)
    )
    return found


async def deliveries(db: asyncpg.Pool, campaign: str) -> int:
    count: int = await db.fetchval(
        """SELECT count(*) FROM deliveries d JOIN runs r ON r.id = d.run_id
             JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = $1""",
        campaign,
    )
    return count


@pytest.mark.slow  # 20–30 s on 2 busy cores: about ten CLI processes
async def test_prune__a_done_run__its_figures_daily_stats_and_consent_kept(
    sandbox: Sandbox, env: dict[str, str], db: asyncpg.Pool
) -> None:
    await cli("run", "hello", "--quiet", env=env)
    before = await status(env)
    stats_before = json.loads(await cli("stats", "--campaign", "hello", "--json", env=env))
    consent_before = await db.fetch("SELECT chat_id, status FROM subscribers ORDER BY chat_id")
    blocks_before = await db.fetchval(
        "SELECT count(*) FROM events WHERE kind = 'subscriber.blocked'"
    )
    assert before["status"] == "done"
    assert before["sent"] > 0
    assert before["blocked"] > 0
    assert before["pruned_at"] is None
    listed = await cli("campaign", "runs", "hello", "--json", env=env)

    out = await cli("db", "prune", "--finished-before", TOMORROW, "--yes", env=env)

    assert f"pruned run 1 of hello: {before['audience']} deliveries" in out
    assert "pruned 1 run(s) finished before" in out
    assert await deliveries(db, "hello") == 0
    after = await status(env)
    assert after["pruned_at"] is not None
    assert {**after, "pruned_at": None} == before
    assert json.loads(await cli("campaign", "runs", "hello", "--json", env=env)) == (
        json.loads(listed)
    )
    text = await cli("campaign", "status", "hello", "--run", "1", env=env)
    assert "deliveries deleted, figures kept" in text
    # The dashboard's run page shows the kept figures too, not the emptied counters.
    _, live = await dashboard.run_live(db, "hello", 1)
    shown = ("sent", "failed", "blocked", "gone", "skipped", "uncertain", "pending")
    assert {k: live.figures[k] for k in shown} == {k: before[k] for k in shown}
    assert json.loads(await cli("stats", "--campaign", "hello", "--json", env=env)) == stats_before
    assert await db.fetch("SELECT chat_id, status FROM subscribers ORDER BY chat_id") == (
        consent_before
    )
    assert (
        await db.fetchval("SELECT count(*) FROM events WHERE kind = 'subscriber.blocked'")
        == blocks_before
    )
    assert await db.fetchval("SELECT count(*) FROM events WHERE kind LIKE 'delivery.%'") == 0
    # a second prune finds nothing left to do
    again = await cli("db", "prune", "--finished-before", TOMORROW, "--yes", env=env)
    assert "pruned 0 run(s)" in again
    # forgetting a reached chat forgets that it was reached; the kept figures stay
    reached = await db.fetchval("SELECT chat_id FROM campaign_reached ORDER BY chat_id LIMIT 1")
    assert reached is not None
    await cli("audience", "forget", str(reached), env=env)
    assert (
        await db.fetchval("SELECT count(*) FROM campaign_reached WHERE chat_id = $1", reached) == 0
    )
    assert {**await status(env), "pruned_at": None} == before


@pytest.mark.slow  # 20–30 s on 2 busy cores: about ten CLI processes
async def test_prune__then_the_one_shot_campaign_again__only_chats_that_never_had_it(
    sandbox: Sandbox, env: dict[str, str], db: asyncpg.Pool
) -> None:
    # A quarter of the audience unsubscribed during run 1 and back afterwards: run 2 of a
    # one-shot campaign must reach them, and nobody run 1 reached.
    later = await db.fetch(
        """UPDATE subscribers SET status = 'unsubscribed'
            WHERE id IN (SELECT id FROM subscribers ORDER BY id LIMIT 10) RETURNING chat_id"""
    )
    await cli("run", "hello", "--quiet", env=env)
    first = ledger_counts(sandbox)
    await cli("db", "prune", "--finished-before", TOMORROW, "--yes", env=env)
    assert await deliveries(db, "hello") == 0

    out = await cli("campaign", "start", "hello", env=env)
    assert "nothing to send: every chat in the segment of 'hello' has had it" in out, out
    assert f"({len(first)} chats reached so far)" in out

    await db.execute(
        "UPDATE subscribers SET status = 'subscribed' WHERE chat_id = ANY($1::bigint[])",
        [row["chat_id"] for row in later],
    )
    await cli("run", "hello", "--quiet", env=env)

    counts = ledger_counts(sandbox)
    assert set(counts.values()) == {1}, "a chat had hello twice"
    second = set(counts) - set(first)
    assert second
    assert second <= {row["chat_id"] for row in later}
    assert (await status(env, number=2))["audience"] == 10


@pytest.mark.slow  # 20–30 s on 2 busy cores: about ten CLI processes
async def test_prune__a_running_run__untouched_and_a_cancelled_one_pruned(
    sandbox: Sandbox, env: dict[str, str], db: asyncpg.Pool
) -> None:
    await create(env, "later")
    await create(env, "dropped")
    await cli("campaign", "start", "later", env=env)  # no serve: stays running, all pending
    await cli("campaign", "start", "dropped", env=env)
    await cli("campaign", "cancel", "dropped", env=env)
    running = await deliveries(db, "later")
    cancelled = await status(env, "dropped")
    assert running > 0
    assert cancelled["status"] == "cancelled"
    assert cancelled["skipped"] > 0

    out = await cli("db", "prune", "--finished-before", TOMORROW, "--yes", env=env)

    assert "later" not in out
    assert "pruned run 1 of dropped" in out
    assert await deliveries(db, "later") == running
    assert (await status(env, "later"))["pending"] == running
    assert await deliveries(db, "dropped") == 0
    assert {**await status(env, "dropped"), "pruned_at": None} == cancelled


async def test_prune__dry_run__counts_and_deletes_nothing(
    sandbox: Sandbox, env: dict[str, str], db: asyncpg.Pool
) -> None:
    await cli("run", "hello", "--quiet", env=env)
    held = await deliveries(db, "hello")

    out = await cli("db", "prune", "--finished-before", TOMORROW, "--dry-run", env=env)

    assert f"would prune run 1 of hello: {held} deliveries" in out
    assert "nothing deleted" in out
    assert await deliveries(db, "hello") == held
    assert (await status(env))["pruned_at"] is None
    # a date before the run finished prunes nothing either
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    out = await cli("db", "prune", "--finished-before", yesterday, "--yes", env=env)
    assert "pruned 0 run(s)" in out
    assert await deliveries(db, "hello") == held


@pytest.mark.parametrize("date", ["yesterday", "2026-13-01", "31/01/2026", ""])
async def test_prune__a_bad_date__one_line_error_nothing_deleted(
    cli_env: dict[str, str], date: str
) -> None:
    code, _, err = await run_cli("db", "prune", "--finished-before", date, "--yes", env=cli_env)

    assert code != 0
    assert err == (
        f"error: --finished-before: {date!r} is not an ISO 8601 date "
        "(e.g. 2026-01-31 or 2026-01-31T12:00:00+00:00)\n"
    )


async def test_prune__without_yes_and_no_terminal__refused(cli_env: dict[str, str]) -> None:
    code, _, err = await run_cli("db", "prune", "--finished-before", TOMORROW, env=cli_env)

    assert code != 0
    assert err == "error: pruning needs a confirmation: pass --yes (or --dry-run)\n"
