"""API fixtures: `bulletin serve` as a process, a sandbox bot with an audience, an HTTP client."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from bulletin import config, models
from bulletin.db.pool import open_pool
from bulletin.sandbox import Sandbox, World
from tests.support import CliProcess, import_world, register_bot, run_cli, start_cli

STARTED = re.compile(r"HTTP API on (http://\S+)/api/v1 ")
AUDIENCE = 60


@pytest.fixture
async def pool(settings: config.Settings) -> AsyncIterator[asyncpg.Pool]:
    async with open_pool(settings, max_size=5) as opened:
        yield opened


@dataclass
class Served:
    """A running `bulletin serve` and where its API answers."""

    process: CliProcess
    url: str
    lines: list[str]


async def start_serve(env: dict[str, str], *args: str) -> Served:
    """`bulletin serve` (with `args`), once its startup line says where the API is."""
    # Forked from the tests' per-process server when it can (aiogram imported once, not per serve).
    process = await start_cli(
        "serve", *args, env=env, stdin=None, stdout=asyncio.subprocess.DEVNULL
    )
    assert process.stderr is not None
    lines: list[str] = []
    async with asyncio.timeout(60):
        while True:
            line = (await process.stderr.readline()).decode()
            if not line:
                await process.wait()
                raise AssertionError(f"serve exited {process.returncode}: {''.join(lines)}")
            lines.append(line)
            found = STARTED.search(line)
            if found:
                return Served(process, found[1], lines)


async def stop_serve(served: Served) -> str:
    served.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        _, err = await served.process.communicate()
    assert served.process.returncode == 0, "".join(served.lines) + err.decode()
    return "".join(served.lines) + err.decode()


@pytest.fixture
async def world_bot(pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[models.Bot]:
    """A sandbox bot named `news` with an audience, some of whom blocked it."""
    world = World.generate(AUDIENCE, blocked=0.1, gone=0.05, seed=77)
    sandbox_bot = world.add_bot(rate_per_s=500)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "news", 500)
        await import_world(pool, world, bot, tmp_path)
        yield bot


@pytest.fixture
async def served(cli_env: dict[str, str], world_bot: models.Bot) -> AsyncIterator[Served]:
    running = await start_serve(cli_env)
    try:
        yield running
    finally:
        await stop_serve(running)


async def create_token(env: dict[str, str], role: str, name: str) -> str:
    code, out, err = await run_cli("token", "create", "--role", role, "--name", name, env=env)
    assert code == 0, err
    return out.strip()


def client(served: Served, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=served.url, headers=headers, timeout=30)


async def make_token(pool: asyncpg.Pool, role: str, name: str) -> str:
    """A token made through the use case `token create` calls: seconds faster than the CLI,
    for tests whose subject is not the token."""
    from bulletin.app import tokens

    _, secret = await tokens.create(pool, tokens.Role(role), name)
    return secret
