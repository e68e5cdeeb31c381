"""`bulletin campaign report` as a user runs it, after a run through the sandbox."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import asyncpg

from bulletin.sandbox import Sandbox
from tests.cli import test_cli as cli_tests
from tests.cli.test_cli import add_bot
from tests.support import run_cli

sandbox = cli_tests.sandbox  # 60 chats, 6 of them blocked and 3 gone


async def _run_launch(sandbox: Sandbox, env: dict[str, str], folder: Path) -> None:
    audience = folder / "people.csv"
    sandbox.world.write_audience_csv(audience)
    await add_bot(sandbox, env)
    for args in (
        ["audience", "import", str(audience), "--bot", "news"],
        ["campaign", "create", "launch", "--bot", "news", "--text", "Hi"],
        ["run", "launch"],
    ):
        code, _, err = await run_cli(*args, env=env)
        assert code == 0, err


async def test_report__after_a_run__one_row_per_delivery_with_telegrams_reason(
    sandbox: Sandbox, cli_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    await _run_launch(sandbox, cli_env, tmp_path)
    # A description that a spreadsheet would run as a formula, as a hostile chat could cause.
    async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool:
        await pool.execute(
            """UPDATE deliveries SET error = '=HYPERLINK("http://x")'
                WHERE id = (SELECT min(id) FROM deliveries WHERE status = 'sent')"""
        )

    code, out, err = await run_cli("campaign", "report", "launch", "--run", "1", env=cli_env)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    jsonl = tmp_path / "report.jsonl"
    code, _, err = await run_cli("campaign", "report", "launch", "-o", str(jsonl), env=cli_env)
    assert code == 0, err
    assert f"wrote 60 deliveries of run 1 of launch to {jsonl}" in err
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    blocked = tmp_path / "blocked.csv"
    code, _, err = await run_cli(
        "campaign", "report", "launch", "--outcome", "blocked", "-o", str(blocked), env=cli_env
    )
    assert code == 0, err
    blocked_rows = list(csv.DictReader(io.StringIO(blocked.read_text())))
    status = json.loads((await run_cli("campaign", "status", "launch", "--json", env=cli_env))[1])

    assert len(rows) == len(records) == 60
    outcomes = Counter(record["outcome"] for record in records)
    assert (outcomes["sent"], outcomes["failed"]) == (status["sent"], status["failed"])
    assert len(blocked_rows) == status["blocked"] == 6
    assert {row["description"] for row in blocked_rows} == {
        "Forbidden: bot was blocked by the user"
    }
    assert all(row["failure"] == "blocked" and row["attempts"] == "1" for row in blocked_rows)
    assert [row["description"] for row in rows if row["description"].startswith("'")] == [
        '\'=HYPERLINK("http://x")'
    ]
    sent = [record for record in records if record["outcome"] == "sent"]
    assert all(record["at"].endswith("+00:00") for record in sent)
    assert {record["chat_id"] for record in records} == {int(row["chat_id"]) for row in rows}


async def test_report__unknown_run_or_campaign__one_error_line_and_no_file(
    sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path
) -> None:
    await add_bot(sandbox, cli_env)
    code, _, err = await run_cli(
        "campaign", "create", "launch", "--bot", "news", "--text", "Hi", env=cli_env
    )
    assert code == 0, err
    target = tmp_path / "out.csv"
    for args in (["launch"], ["launch", "--run", "2"], ["nope"], ["launch", "--outcome", "x"]):
        code, _, err = await run_cli("campaign", "report", *args, "-o", str(target), env=cli_env)
        assert code != 0
        assert err.strip().splitlines()[-1].startswith("error:") or "Invalid value" in err, err
        assert not target.exists()
