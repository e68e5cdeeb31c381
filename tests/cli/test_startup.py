"""What a command imports: one that never talks to Telegram never loads aiogram (issue 12).

The commands run as a user runs them, in a subprocess, and report at exit which of the heavy
stacks their process loaded; bench/startup.py measures what that saves.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest
import typer.main

from bulletin.cli import context
from bulletin.cli.main import LAZY, LazyGroup, app
from tests.cli.faults import closed_port
from tests.support import run_cli

# Printed at exit by the probed process: which of these it had imported.
HEAVY = ("aiogram", "fastapi", "uvicorn", "prometheus_client", "bulletin.sandbox", "bulletin.web")
PROBE = (
    "import atexit, sys\n"
    f"heavy = {HEAVY!r}\n"
    "atexit.register(lambda: print('loaded:', ','.join(m for m in heavy if m in sys.modules),"
    " file=sys.__stderr__, flush=True))\n"
    "from bulletin.cli.main import main\n"
    "main()\n"
)


def loaded(stderr: str) -> set[str]:
    line = next(line for line in stderr.splitlines() if line.startswith("loaded:"))
    return {name for name in line.removeprefix("loaded:").strip().split(",") if name}


async def probe(*args: str, env: dict[str, str]) -> tuple[int, str, set[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROBE,
        *args,
        env={**env, "COLUMNS": "200", "NO_COLOR": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), loaded(err.decode())


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["campaign", "--help"],
        ["campaign", "list"],
        ["audience", "stats"],
        ["bot", "list"],
        ["stats"],
        ["token", "list"],
    ],
    ids=" ".join,
)
async def test_command_without_telegram__imports_no_aiogram_web_or_sandbox(
    args: list[str], cli_env: dict[str, str]
) -> None:
    code, out, heavy = await probe(*args, env=cli_env)

    assert code == 0, out
    assert heavy == set()


async def test_idle_worker__holds_no_aiogram_web_or_sandbox(cli_env: dict[str, str]) -> None:
    """A `serve --workers N` worker with nothing to send loads the Bot API client only once it
    leases a bot: here it never does."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROBE,
        "worker",
        env={**cli_env, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    lines: list[str] = []
    async with asyncio.timeout(60):
        while not any("serving as" in line for line in lines):
            lines.append((await process.stderr.readline()).decode())
            assert lines[-1], "".join(lines)
        process.send_signal(signal.SIGTERM)
        _, rest = await process.communicate()

    assert process.returncode == 0, "".join(lines) + rest.decode()
    assert loaded("".join(lines) + rest.decode()) <= {"prometheus_client"}


async def test_help__lists_every_command__as_their_modules_describe_them(
    cli_env: dict[str, str],
) -> None:
    """`bulletin --help` shows LAZY's summaries without importing the commands: each must be
    the first paragraph of its command's own help, and every command must be in LAZY."""
    root = typer.main.get_command(app)
    assert isinstance(root, LazyGroup)
    root.load_all()

    for name, lazy in LAZY.items():
        command = root.commands[name]
        described = (command.short_help or command.help or "").split("\n\n")[0]
        assert (described, command.hidden) == (lazy.summary, lazy.hidden), name
    assert set(root.commands) == set(LAZY)
    code, out, _ = await run_cli("--help", env=cli_env)
    assert code == 0
    assert all(name in out for name, lazy in LAZY.items() if not lazy.hidden)


def test_run_log_level__names_the_run_log() -> None:
    """The CLI sets the run log's level by name, so that logging imports no database code."""
    from bulletin.app import run_log

    assert run_log.log.name == context.RUN_LOG


async def test_command_talking_to_telegram__probe_sees_aiogram(cli_env: dict[str, str]) -> None:
    """The probe itself: `bot add` asks getMe (of a closed port here), so it loads aiogram."""
    url = f"http://127.0.0.1:{closed_port()}"
    code, _, heavy = await probe("bot", "add", "123:abc", "--api-url", url, env=cli_env)

    assert code != 0
    assert "aiogram" in heavy
