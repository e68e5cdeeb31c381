"""Faults below the CLI for its tests: a closed port, an unwritable dir, an API server that is not one."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests import prefork
from tests.support import captured

# Root writes anywhere; without these capabilities it obeys file modes like anyone else.
AS_AN_ORDINARY_USER = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
    "--",
]


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def unwritable_dir(path: Path) -> Path:
    """An existing directory this test's CLI processes cannot write into."""
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv to drop the override")
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o555)
    return path


async def run_bulletin(
    *args: str,
    env: dict[str, str],
    stdin: bytes | None = None,
    timeout_s: float = 120,
    terminal_width: bool = True,
    unprivileged: bool = False,
) -> tuple[int, str, str]:
    """Run the bulletin command through its real entry point, as a user's shell would."""
    environment = {k: v for k, v in env.items() if k != "COLUMNS"}
    environment |= {"NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    if terminal_width:
        environment["COLUMNS"] = "200"
    prefix = AS_AN_ORDINARY_USER if unprivileged and os.geteuid() == 0 else []
    if not prefix and prefork.forkable(environment):
        code, out, err = await prefork.run(args, environment, stdin, timeout_s)
        return code, *captured(args, out, err)
    process = await asyncio.create_subprocess_exec(
        *prefix,
        sys.executable,
        "-c",
        prefork.COMMAND,
        *args,
        env=environment,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await process.communicate(stdin)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, *captured(args, out, err)


def assert_one_line_error(code: int, out: str, err: str, *, containing: str = "") -> str:
    """Exit 1, one `error: …` line on stderr, and no traceback anywhere."""
    assert "Traceback" not in out + err, out + err
    assert code == 1, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert containing in lines[0], lines[0]
    return lines[0]


async def _not_a_bot_api(request: web.Request) -> web.Response:
    """`/nonjson/…` answers a web page, `/error500/…` a server error page."""
    if request.path.startswith("/error500/"):
        return web.Response(status=500, text="<html><body>Internal Server Error</body></html>")
    return web.Response(text="Hello! This is a web server, not the Bot API.")


@pytest.fixture
async def not_a_bot_api() -> AsyncIterator[str]:
    """The base URL of an HTTP server that answers anything but Bot API JSON."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _not_a_bot_api)
    runner = web.AppRunner(app)
    await runner.setup()
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    await web.SockSite(runner, listening).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
