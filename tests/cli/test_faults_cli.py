"""Every CLI command with a fault below it: one `error:` line and a non-zero exit, never a traceback.

The commands come from the Typer app itself, so a new command is covered the day it is added;
its arguments are filled from their names and types. Faults: the database URL points at a
closed port; the data dir exists but cannot be written; the Bot API URL answers a web page,
a 500 page, or nothing (for commands that take `--api-url` or `--test-chat`); the sandbox's
port is taken.
"""

from __future__ import annotations

import enum
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import typer.main

from bulletin.cli.main import LazyGroup, app
from bulletin.sandbox import Sandbox, World
from tests.cli.faults import assert_one_line_error, closed_port, run_bulletin, unwritable_dir
from tests.cli.faults import not_a_bot_api as not_a_bot_api
from tests.support import register_bot

# About 75 command lines, a few seconds each: a chaos test, run in CI.
pytestmark = pytest.mark.slow

# Commands that legitimately need nothing the fault takes away, and so may succeed.
UNAFFECTED = {
    ("db start", "database"),  # the embedded server ignores a configured URL
    ("db stop", "database"),
    ("db stop", "data_dir"),  # nothing runs there, so nothing to stop
}
# Arguments that make a command reach the layer below instead of stopping at its own checks.
EXTRA_ARGUMENTS = {
    "audience tag": ["--bot", "news", "1"],
    "audience untag": ["--bot", "news", "1"],
    "campaign edit": ["--text", "Hi again"],
    "campaign check": ["--test-chat", "1"],
    "demo": ["--users", "5"],
}
# Long-running commands that need no database or data dir: faulted where they do depend.
OWN_FAULTS = {"sandbox": "port_taken"}
TELEGRAM_FAULTS = ("not_json", "server_error", "refused")
CAMPAIGN = "name: hello\nbot: news\nvariants:\n  - text: Hi\n"


def commands() -> Iterator[tuple[str, Any]]:
    """Every leaf command of the Typer app, hidden ones included, by its full name."""

    def walk(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        children = getattr(command, "commands", None)
        if children is None:
            yield " ".join(path), command
            return
        for name, child in children.items():
            yield from walk(child, [*path, name])

    root = typer.main.get_command(app)
    assert isinstance(root, LazyGroup)
    root.load_all()  # commands are imported as they run: load every one to walk them
    yield from walk(root, [])


def talks_to_telegram(command: Any) -> bool:
    return any({"--api-url", "--test-chat"} & set(param.opts) for param in command.params)


def cases() -> Iterator[Any]:
    for name, command in commands():
        if name in OWN_FAULTS:
            yield pytest.param(name, OWN_FAULTS[name], id=f"{name}-{OWN_FAULTS[name]}")
            continue
        faults = ["database", "data_dir"]
        if talks_to_telegram(command):
            faults += TELEGRAM_FAULTS
        for fault in faults:
            yield pytest.param(name, fault, id=f"{name}-{fault}")


def arguments(name: str, command: Any, folder: Path, token: str, api_url: str) -> list[str]:
    """A plausible command line: required values filled by name and type, then the extras."""
    values = {
        "token": token,
        "file": str(folder / "people.csv"),
        "path": str(folder / "hello.yaml"),
        "chat_id": "1",
        "tag": "vip",
    }
    line = name.split()
    for param in command.params:
        if not param.required:
            continue
        value = values.get(param.name, "news" if param.name == "bot" else "hello")
        annotation = param.type_descriptor.annotation
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            value = str(next(iter(annotation)).value)  # an enum: its first member
        line += [param.opts[0], value] if param.opts[0].startswith("-") else [value]
    if any("--api-url" in param.opts for param in command.params):
        line += ["--api-url", api_url]
    return line + EXTRA_ARGUMENTS.get(name, [])


@pytest.fixture
async def sandbox() -> Any:
    world = World.generate(3, seed=31)
    world.add_bot(rate_per_s=500)
    async with Sandbox(world) as running:
        yield running


async def prepared(env: dict[str, str], sandbox: Sandbox, api_url: str) -> None:
    """A working database with bot `news` (at api_url) and campaign `hello`, for Bot API faults."""
    bot = next(iter(sandbox.world.bots.values()))
    async with asyncpg.create_pool(env["BULLETIN_DATABASE_URL"], min_size=1, max_size=1) as pool:
        await register_bot(pool, sandbox, bot, "news", 500)
        await pool.execute("UPDATE bots SET api_url = $1", api_url)
    code, _, err = await run_bulletin(
        "campaign", "create", "hello", "--bot", "news", "--text", "Hi", env=env
    )
    assert code == 0, err


def faulty_api_url(fault: str, not_a_bot_api: str) -> str:
    return {
        "not_json": f"{not_a_bot_api}/nonjson",
        "server_error": f"{not_a_bot_api}/error500",
        "refused": f"http://127.0.0.1:{closed_port()}",
    }[fault]


@pytest.mark.parametrize(("name", "fault"), list(cases()))
async def test_command__fault_below__one_error_line_and_no_traceback(
    name: str,
    fault: str,
    cli_env: dict[str, str],
    sandbox: Sandbox,
    not_a_bot_api: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "people.csv").write_text("chat_id\n1\n")
    (tmp_path / "hello.yaml").write_text(CAMPAIGN)
    command = dict(commands())[name]
    token = next(iter(sandbox.world.bots.values())).token
    env = dict(cli_env)
    api_url = sandbox.url
    unprivileged = False
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        if fault == "database":
            env["BULLETIN_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{closed_port()}/gone"
        elif fault == "data_dir":
            del env["BULLETIN_DATABASE_URL"]
            env["BULLETIN_DATA_DIR"] = str(unwritable_dir(tmp_path / "data"))
            unprivileged = True
        elif fault in TELEGRAM_FAULTS:
            api_url = faulty_api_url(fault, not_a_bot_api)
            await prepared(env, sandbox, api_url)
        line = arguments(name, command, tmp_path, token, api_url)
        if fault == "port_taken":
            line += ["--port", str(port)]
        code, out, err = await run_bulletin(
            *line, env=env, stdin=b"", timeout_s=90, unprivileged=unprivileged
        )

    if code == 0 and (name, fault) in UNAFFECTED:
        assert "Traceback" not in out + err
        return
    assert_one_line_error(code, out, err)
