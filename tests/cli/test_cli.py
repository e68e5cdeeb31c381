"""The bulletin command as a user runs it: real subprocesses, real PostgreSQL, the sandbox over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bulletin.db import embedded, migrations
from bulletin.sandbox import Sandbox, World
from tests.support import ledger_counts, register_bot, run_cli, start_cli, wait_for


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    world = World.generate(60, blocked=0.1, gone=0.05, seed=11)
    world.add_bot(rate_per_s=200)
    async with Sandbox(world) as running:
        yield running


def token_of(sandbox: Sandbox) -> str:
    return next(iter(sandbox.world.bots.values())).token


async def add_bot(
    sandbox: Sandbox, env: dict[str, str], name: str = "news", *, via_cli: bool = False
) -> None:
    """Register the sandbox's bot: through `bot add` (seconds: aiogram loads) or directly."""
    if via_cli:
        code, out, err = await run_cli(
            "bot", "add", token_of(sandbox), "--name", name, "--api-url", sandbox.url,
            "--rate", "200", env=env,
        )  # fmt: skip
        assert code == 0, err
        assert token_of(sandbox) not in out + err
        assert token_of(sandbox)[-4:] in out
        return
    bot = next(iter(sandbox.world.bots.values()))
    async with asyncpg.create_pool(env["BULLETIN_DATABASE_URL"], min_size=1, max_size=1) as pool:
        await register_bot(pool, sandbox, bot, name, 200)


async def test_cli__bot_audience_campaign_run__delivers_once_to_reachable_chats(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path
) -> None:
    audience = tmp_path / "people.csv"
    sandbox.world.write_audience_csv(audience)
    await add_bot(sandbox, cli_env, via_cli=True)

    code, out, err = await run_cli(
        "audience", "import", str(audience), "--bot", "news", "--tag", "Spring", env=cli_env
    )
    assert code == 0, err
    assert "imported 60 new" in out
    code, out, err = await run_cli(
        "campaign", "create", "launch", "--bot", "news", "--text", "Hi <b>all</b>", env=cli_env
    )
    assert code == 0, err
    code, out, err = await run_cli("run", "launch", env=cli_env)
    assert code == 0, err
    assert "done" in out

    reachable = {c.id for c in sandbox.world.chats.values() if c.state == "reachable"}
    assert set(ledger_counts(sandbox)) == reachable
    assert set(ledger_counts(sandbox).values()) == {1}
    code, out, err = await run_cli("campaign", "status", "launch", "--json", env=cli_env)
    status = json.loads(out)
    assert status["sent"] == len(reachable)
    assert status["blocked"] == 6
    assert status["gone"] == 3
    assert status["status"] == "done"
    code, out, _ = await run_cli("bot", "list", "--json", env=cli_env)
    assert json.loads(out)[0]["subscribed"] == len(reachable)


async def test_cli__invalid_audience_lines__listed_with_numbers_and_nothing_imported(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path
) -> None:
    await add_bot(sandbox, cli_env)
    bad = tmp_path / "bad.csv"
    bad.write_text("chat_id,first_name\n1001,Ann\nabc,Bob\n1003,Cy\n0,Dee\n")

    code, out, err = await run_cli("audience", "import", str(bad), "--bot", "news", env=cli_env)

    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"{bad}:3: ")
    assert lines[1].startswith(f"{bad}:5: ")
    assert lines[-1].startswith("error: ")
    assert "nothing imported" in lines[-1]
    code, out, _ = await run_cli("audience", "stats", "--json", env=cli_env)
    assert json.loads(out) == []

    code, out, err = await run_cli(
        "audience", "import", str(bad), "--bot", "news", "--skip-invalid", env=cli_env
    )
    assert code == 0, err
    assert "imported 2 new" in out


async def test_cli__audience_from_stdin__duplicates_merge(
    sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    await add_bot(sandbox, cli_env)
    code, out, err = await run_cli(
        "audience", "import", "-", "--bot", "news", env=cli_env, stdin=b"5\n6\n5\n"
    )
    assert code == 0, err
    assert "imported 2 new" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("audience", "import", "/nonexistent/people.csv", "--bot", "news"), "cannot read"),
        (("audience", "import", "{empty}", "--bot", "news"), "empty"),
        (("audience", "import", "{people}", "--bot", "nobody"), "no bot named 'nobody'"),
        (("campaign", "create", "x", "--bot", "nobody", "--text", "hi"), "no bot named"),
        (("campaign", "status", "missing"), "no campaign named 'missing'"),
        (("campaign", "create", "x", "--bot", "news"), "exactly one of --text or --text-file"),
        (
            ("bot", "add", "123:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--api-url", "{url}"),
            "rejected",
        ),
        (("bot", "add", "not-a-token", "--api-url", "{url}"), "not a bot token"),
    ],
)
async def test_cli__bad_input__one_line_error_and_nonzero_exit(
    sandbox: Sandbox,
    cli_env: dict[str, str],
    tmp_path: Path,
    args: tuple[str, ...],
    expected: str,
) -> None:
    await add_bot(sandbox, cli_env)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "people.csv").write_text("chat_id\n1\n")
    values = {
        "empty": str(tmp_path / "empty.csv"),
        "people": str(tmp_path / "people.csv"),
        "url": sandbox.url,
    }
    code, _out, err = await run_cli(*(arg.format(**values) for arg in args), env=cli_env)
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ")
    assert expected in err


async def test_cli__unreachable_database__one_line_error(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "BULLETIN_DATABASE_URL": "postgresql://u:secret@127.0.0.1:9/nowhere"}
    code, _out, err = await run_cli("bot", "list", env=env)
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert "cannot connect to database at 127.0.0.1:9/nowhere" in err
    assert "secret" not in err


async def test_cli__serve__delivers_started_runs_and_drains_on_sigterm(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    audience = tmp_path / "people.csv"
    sandbox.world.write_audience_csv(audience)
    await add_bot(sandbox, cli_env)
    await run_cli("audience", "import", str(audience), "--bot", "news", env=cli_env)
    await run_cli("campaign", "create", "weekly", "--bot", "news", "--text", "hi", env=cli_env)
    serve = await start_cli("serve", env=cli_env, stdin=None)
    try:
        code, _out, err = await run_cli("campaign", "start", "weekly", env=cli_env)
        assert code == 0, err
        pool = await asyncpg.connect(database_url)
        try:
            await wait_for(pool, "SELECT bool_and(status = 'done') FROM runs")
        finally:
            await pool.close()
    finally:
        serve.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            _, serve_err = await serve.communicate()
    assert serve.returncode == 0, serve_err.decode()
    assert len(ledger_counts(sandbox)) == 51


async def test_cli__embedded_postgres__init_and_use_without_a_url(open_tmp_path: Path) -> None:
    tmp_path = open_tmp_path
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLETIN_")}
    env["BULLETIN_DATA_DIR"] = str(tmp_path / "data")
    try:
        code, out, err = await run_cli("bot", "list", env=env)
        assert code == 1
        assert "bulletin init" in err
        code, out, err = await run_cli("init", env=env)
        assert code == 0, err
        assert f"schema at version {migrations.latest_version()}" in out
        code, out, err = await run_cli("bot", "list", "--json", env=env)
        assert code == 0, err
        assert json.loads(out) == []
        assert not list((tmp_path / "data").glob("postgres.init-*"))
        code, out, err = await run_cli("db", "stop", env=env)
        assert code == 0, err
        assert "stopped" in out
        assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()
    finally:
        embedded.stop(tmp_path / "data" / "postgres")


async def test_cli__demo__runs_a_campaign_end_to_end_on_embedded_postgres(
    open_tmp_path: Path,
) -> None:
    tmp_path = open_tmp_path
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLETIN_")}
    env["BULLETIN_DATA_DIR"] = str(tmp_path / "data")
    try:
        code, out, err = await run_cli("demo", "--users", "200", "--rate", "200", env=env)
    finally:
        embedded.stop(tmp_path / "data" / "postgres")
    assert code == 0, err
    assert "sandbox saw" in out
    assert "done" in out
    assert "bulletin campaign status demo-" in out
