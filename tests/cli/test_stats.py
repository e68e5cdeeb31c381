"""`bulletin stats` as a user runs it: the daily rollups after a run through the sandbox and a /stop."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import asyncpg

from bulletin.sandbox import Sandbox
from tests.cli import test_cli as cli_tests
from tests.cli.test_cli import add_bot
from tests.support import run_cli, start_cli, wait_for

NEWCOMER = 990_000_001  # not in the world: a person who starts the bot, then stops it

sandbox = cli_tests.sandbox  # 60 chats, 6 of them blocked and 3 gone


async def _listen_start_then_stop(sandbox: Sandbox, env: dict[str, str], url: str) -> None:
    bot_id = next(iter(sandbox.world.bots))
    listener = await start_cli("listen", env=env, stdin=None, stdout=None)
    database = await asyncpg.connect(url)
    try:
        sandbox.actions.start(bot_id, NEWCOMER, "stats")
        query = "SELECT status = $2 FROM subscribers WHERE chat_id = $1"
        await wait_for(database, query, NEWCOMER, "subscribed")
        sandbox.actions.stop(bot_id, NEWCOMER)
        await wait_for(database, query, NEWCOMER, "unsubscribed")
    finally:
        await database.close()
        listener.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            _, errors = await listener.communicate()
    assert listener.returncode == 0, errors.decode()


async def _json(*args: str, env: dict[str, str]) -> dict[str, object]:
    code, out, err = await run_cli(*args, "--json", env=env)
    assert code == 0, err
    value: dict[str, object] = json.loads(out)
    return value


async def test_stats__run_then_listener_stop__equal_campaign_status_and_subscriber_changes(
    sandbox: Sandbox,
    cli_env: dict[str, str],
    database_url: str,
    tmp_path: Path,
) -> None:
    audience = tmp_path / "people.csv"
    sandbox.world.write_audience_csv(audience)
    await add_bot(sandbox, cli_env)
    code, _, err = await run_cli("audience", "import", str(audience), "--bot", "news", env=cli_env)
    assert code == 0, err
    code, _, err = await run_cli(
        "campaign", "create", "launch", "--bot", "news", "--text", "Hi", env=cli_env
    )
    assert code == 0, err
    code, _, err = await run_cli("run", "launch", env=cli_env)
    assert code == 0, err
    await _listen_start_then_stop(sandbox, cli_env, database_url)

    status = await _json("campaign", "status", "launch", env=cli_env)
    by_bot = await _json("stats", env=cli_env)
    by_campaign = await _json("stats", "--campaign", "launch", env=cli_env)
    one_bot = await _json("stats", "--bot", "news", "--days", "1", env=cli_env)
    bot_and_campaign = await _json("stats", "--bot", "news", "--campaign", "launch", env=cli_env)

    outcomes = ("sent", "failed", "blocked", "gone", "skipped", "uncertain")
    expected = {name: status[name] for name in outcomes}
    assert (expected["blocked"], expected["gone"]) == (6, 3)
    assert {name: by_campaign["totals"][name] for name in outcomes} == expected  # type: ignore[index]
    bot_totals = by_bot["totals"]
    assert {name: bot_totals[name] for name in outcomes} == expected  # type: ignore[index]
    # 60 imported and the newcomer's /start; the newcomer's /stop and the 6 who blocked the bot.
    assert (bot_totals["subscribed"], bot_totals["opted_out"]) == (61, 7)  # type: ignore[index]
    assert by_campaign["totals"]["opted_out"] == 6  # type: ignore[index]
    assert one_bot == by_bot
    assert bot_and_campaign == by_campaign  # the campaign's only bot sent all of it
    days = by_bot["days"]
    assert isinstance(days, list)
    assert [day["bot"] for day in days] == ["news"]

    code, out, err = await run_cli("stats", "--campaign", "launch", env=cli_env)
    assert code == 0, err
    total_line = next(line for line in out.splitlines() if "total" in line)
    assert str(status["sent"]) in total_line


async def test_stats__bad_options__one_error_line(
    sandbox: Sandbox,
    cli_env: dict[str, str],
) -> None:
    await add_bot(sandbox, cli_env)
    for args, message in [
        (["--days", "0"], "error: --days must be between 1 and"),
        (["--bot", "nope", "--campaign", "launch"], "error: "),
        (["--campaign", "nope"], "error: "),
        (["--bot", "nope"], "error: "),
    ]:
        code, _, err = await run_cli("stats", *args, env=cli_env)
        assert code == 1
        assert err.startswith(message), err
        assert len(err.strip().splitlines()) == 1, err
