"""Once means once at the level the operator acts on: runs, re-runs, starts and `--again`."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bulletin.db import campaigns as campaign_rows
from bulletin.db import runs as run_rows
from bulletin.sandbox import Sandbox, World
from tests.support import eventually, ledger_counts, register_bot, run_cli, start_cli

RATE = 60.0


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    world = World.generate(240, blocked=0.05, gone=0.05, seed=41)
    world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as running:
        yield running


@pytest.fixture
async def env(sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A registered bot, its audience imported, and a campaign `hello` ready to run."""
    bot = next(iter(sandbox.world.bots.values()))
    async with asyncpg.create_pool(
        cli_env["BULLETIN_DATABASE_URL"], min_size=1, max_size=2
    ) as pool:
        await register_bot(pool, sandbox, bot, "news", RATE)
    audience = tmp_path / "people.csv"
    sandbox.world.write_audience_csv(audience)
    code, _, err = await run_cli("audience", "import", str(audience), "--bot", "news", env=cli_env)
    assert code == 0, err
    code, _, err = await run_cli(
        "campaign", "create", "hello", "--bot", "news", "--text", "Hi {{ first_name }}",
        env=cli_env,
    )  # fmt: skip
    assert code == 0, err
    return cli_env


def reachable(sandbox: Sandbox) -> set[int]:
    return {c.id for c in sandbox.world.chats.values() if c.state == "reachable"}


def assert_each_reachable_chat_once(sandbox: Sandbox) -> None:
    counts = ledger_counts(sandbox)
    assert set(counts) == reachable(sandbox)
    assert set(counts.values()) == {1}, {chat: n for chat, n in counts.items() if n > 1}


async def campaign_runs(env: dict[str, str], name: str = "hello") -> list[dict[str, object]]:
    code, out, err = await run_cli("campaign", "runs", name, "--json", env=env)
    assert code == 0, err
    listed: list[dict[str, object]] = json.loads(out)
    return listed


async def test_run__two_processes_at_once__one_run_every_chat_once(
    sandbox: Sandbox, env: dict[str, str]
) -> None:
    first, second = await asyncio.gather(
        run_cli("run", "hello", "--quiet", env=env), run_cli("run", "hello", "--quiet", env=env)
    )

    assert first[0] == 0, first[2]
    assert second[0] == 0, second[2]
    assert_each_reachable_chat_once(sandbox)
    runs = await campaign_runs(env)
    assert [(run["run"], run["status"]) for run in runs] == [(1, "done")]
    said = first[2] + second[2]
    assert "started run 1 of hello" in said
    assert "continuing run 1 of hello" in said


async def test_run__interrupted_then_run_again__continues_the_same_run(
    sandbox: Sandbox, env: dict[str, str]
) -> None:
    process = await start_cli("run", "hello", "--quiet", env=env)
    await eventually(lambda: len(sandbox.ledger) >= 40)
    process.send_signal(signal.SIGINT)
    _, interrupted = await process.communicate()
    assert process.returncode == 1
    assert "stopped run 1 of hello with" in interrupted.decode()
    assert len(sandbox.ledger) < len(reachable(sandbox))

    code, _out, err = await run_cli("run", "hello", "--quiet", env=env)

    assert code == 0, err
    assert "continuing run 1 of hello" in err
    assert_each_reachable_chat_once(sandbox)
    assert len(await campaign_runs(env)) == 1


async def test_campaign_start__while_a_run_is_unfinished__refused_naming_it(
    sandbox: Sandbox, env: dict[str, str]
) -> None:
    code, out, err = await run_cli("campaign", "start", "hello", env=env)
    assert code == 0, err
    assert "started run 1 of hello" in out

    code, out, err = await run_cli("campaign", "start", "hello", env=env)

    assert code == 1
    assert err == (
        "error: run 1 of hello is not finished (running); `bulletin run hello` continues it, "
        "`bulletin campaign cancel hello` ends it\n"
    )
    code, _, err = await run_cli("run", "hello", "--quiet", env=env)
    assert code == 0, err
    assert_each_reachable_chat_once(sandbox)


async def test_run_and_start__after_everyone_was_reached__nothing_sent_no_run(
    sandbox: Sandbox, env: dict[str, str]
) -> None:
    code, _, err = await run_cli("run", "hello", "--quiet", env=env)
    assert code == 0, err

    code, out, err = await run_cli("run", "hello", "--quiet", env=env)
    assert code == 0, err
    assert "nothing to send: every chat in the segment of 'hello' has had it" in err
    code, out, err = await run_cli("campaign", "start", "hello", env=env)
    assert code == 0, err
    assert "nothing to send" in out

    assert_each_reachable_chat_once(sandbox)
    assert len(await campaign_runs(env)) == 1
    code, out, _ = await run_cli("campaign", "list", "--json", env=env)
    assert json.loads(out)[0]["status"] == "done"


async def test_run__after_50_joined__reaches_exactly_them_then_again_reaches_everyone(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    code, _, err = await run_cli("run", "hello", "--quiet", env=env)
    assert code == 0, err
    before = ledger_counts(sandbox)
    joined = [9_000_000 + n for n in range(50)]
    for chat_id in joined:
        sandbox.world.set_chat(chat_id, "private")
    newcomers = tmp_path / "newcomers.csv"
    newcomers.write_text("chat_id\n" + "".join(f"{chat_id}\n" for chat_id in joined))
    code, _, err = await run_cli("audience", "import", str(newcomers), "--bot", "news", env=env)
    assert code == 0, err

    code, _, err = await run_cli("run", "hello", "--quiet", env=env)

    assert code == 0, err
    assert "run 2 of hello: 50 chats that have not had 'hello' yet" in err
    assert ledger_counts(sandbox) - before == {chat_id: 1 for chat_id in joined}

    code, _, err = await run_cli("run", "hello", "--again", "--quiet", env=env)
    assert code == 1
    assert "Confirm with --yes" in err
    assert len(err.strip().splitlines()) == 1, err

    code, _out, err = await run_cli("run", "hello", "--again", "--yes", "--quiet", env=env)

    assert code == 0, err
    everyone = reachable(sandbox)
    assert set(ledger_counts(sandbox).values()) == {2}
    assert set(ledger_counts(sandbox)) == everyone
    runs = await campaign_runs(env)
    assert [run["run"] for run in runs] == [1, 2, 3]
    assert [run["sent"] for run in runs] == [len(everyone) - 50, 50, len(everyone)]
    assert {run["status"] for run in runs} == {"done"}


async def test_campaign_status__run_numbers_are_the_campaigns_own(
    sandbox: Sandbox, env: dict[str, str]
) -> None:
    code, _, err = await run_cli("run", "hello", "--quiet", env=env)
    assert code == 0, err

    code, out, err = await run_cli("campaign", "status", "hello", "--run", "1", "--json", env=env)
    assert code == 0, err
    assert json.loads(out)["run"] == 1
    code, out, err = await run_cli("campaign", "status", "hello", "--run", "2", env=env)
    assert code == 1
    assert err == "error: campaign 'hello' has no run 2\n"
    code, out, _ = await run_cli("campaign", "runs", "hello", env=env)
    assert "runs of hello" in out


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Hi {{ first_name }", "template line 1: unexpected '}'"),
        ("Hi {{ frist_name }}", "unknown name 'frist_name'"),
        ("Hi <b>{{ first_name }}", "can't parse"),
    ],
)
async def test_campaign_create__broken_template__refused_nothing_written(
    env: dict[str, str], text: str, reason: str
) -> None:
    code, _, err = await run_cli(
        "campaign", "create", "broken", "--bot", "news", "--text", text, env=env
    )

    assert code == 1
    assert err.startswith("error: campaign 'broken' not saved: variant a: "), err
    assert reason in err
    assert len(err.strip().splitlines()) == 1, err
    code, _, err = await run_cli("run", "broken", env=env)
    assert code == 1
    assert "no campaign named 'broken'" in err


async def test_start__two_connections_racing__postgres_admits_one_unfinished_run(
    sandbox: Sandbox, env: dict[str, str]
) -> None:
    url = env["BULLETIN_DATABASE_URL"]
    async with asyncpg.create_pool(url, min_size=2, max_size=2) as pool:
        async with pool.acquire() as one, pool.acquire() as two:
            campaign = await campaign_rows.find(one, "hello")
            results = await asyncio.gather(
                run_rows.start(one, campaign), run_rows.start(two, campaign), return_exceptions=True
            )
        assert sorted(type(result).__name__ for result in results) == ["Run", "RunUnfinished"]
        with pytest.raises(asyncpg.UniqueViolationError):
            await pool.execute(
                "INSERT INTO runs (campaign_id, number) VALUES ($1, 99)", campaign.id
            )
