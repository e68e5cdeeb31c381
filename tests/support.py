"""Helpers shared by engine and CLI tests: a seeded world, its bot and audience in the database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bulletin import config, models
from bulletin.app import serve as app_serve
from bulletin.audience.reader import AudienceRecord, read_audience
from bulletin.campaign import document
from bulletin.db import bots as bot_rows
from bulletin.db import campaigns as campaign_rows
from bulletin.db import runs as run_rows
from bulletin.db import subscribers
from bulletin.engine.worker import Worker
from bulletin.sandbox import Sandbox, World
from bulletin.sandbox.world import Bot as SandboxBot
from tests import leaks, prefork


async def register_bot(
    pool: asyncpg.Pool, sandbox: Sandbox, bot: SandboxBot, name: str, rate_per_s: float
) -> models.Bot:
    async with pool.acquire() as connection:
        return await bot_rows.insert(
            connection,
            bot_id=bot.id,
            name=name,
            username=bot.username,
            token=bot.token,
            api_url=sandbox.url,
            rate_per_s=rate_per_s,
        )


async def import_world(pool: asyncpg.Pool, world: World, bot: models.Bot, folder: Path) -> int:
    path = folder / f"audience-{bot.id}.csv"
    world.write_audience_csv(path)
    records = [item for item in read_audience(str(path)) if isinstance(item, AudienceRecord)]
    async with pool.acquire() as connection, connection.transaction():
        result = await subscribers.import_staged(connection, bot.id, records)
    return result.inserted


async def start_campaign(
    pool: asyncpg.Pool,
    bot: models.Bot,
    name: str,
    text: str = "Hello <b>there</b>",
    parse_mode: models.ParseMode = models.ParseMode.HTML,
) -> models.Run:
    async with pool.acquire() as connection:
        campaign = await campaign_rows.create(
            connection, name=name, bot=bot, text=text, parse_mode=parse_mode
        )
        return await run_rows.start(connection, campaign)


@dataclass
class Delivered:
    """What a worker did before it stopped."""

    finished_runs: set[int]
    worker: Worker


def make_worker(
    pool: asyncpg.Pool,
    settings: config.Settings,
    finished: asyncio.Event,
    wanted: set[int],
    done: set[int],
) -> Worker:
    """The worker `serve` composes, telling the test when the runs it waits for finish."""

    def on_finished(run_ids: list[int]) -> None:
        done.update(run_ids)
        if wanted <= done:
            finished.set()

    return app_serve.make_worker(pool, settings, on_runs_finished=on_finished)


async def deliver(
    pool: asyncpg.Pool, settings: config.Settings, run_ids: Sequence[int], *, timeout_s: float = 120
) -> Delivered:
    """Run one in-process worker until every given run is finished."""
    finished = asyncio.Event()
    done: set[int] = set()
    worker = make_worker(pool, settings, finished, set(run_ids), done)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(timeout_s):
            await finished.wait()
    finally:
        stop.set()
        await task
    return Delivered(done, worker)


@contextlib.asynccontextmanager
async def running_worker(pool: asyncpg.Pool, settings: config.Settings) -> AsyncIterator[Worker]:
    """A worker delivering in the background while the test waits on the database."""
    worker = make_worker(pool, settings, asyncio.Event(), set(), set())
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await task


async def wait_for(
    pool: asyncpg.Pool | asyncpg.Connection, query: str, *args: object, timeout_s: float = 30
) -> None:
    """Poll the record (the database) until a condition holds."""
    async with asyncio.timeout(timeout_s):
        while True:
            if await pool.fetchval(query, *args):
                return
            await asyncio.sleep(0.05)


async def eventually(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    """Wait until an in-memory condition holds (a sandbox ledger, a process table)."""
    async with asyncio.timeout(timeout_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


def ledger_counts(sandbox: Sandbox, bot_id: int | None = None) -> Counter[int]:
    """Messages Telegram (the sandbox) accepted, per chat."""
    return Counter(
        entry.chat_id for entry in sandbox.ledger if bot_id is None or entry.bot_id == bot_id
    )


async def run_cli(
    *args: str, env: dict[str, str], stdin: bytes | None = None, timeout_s: float = 120
) -> tuple[int, str, str]:
    """Run the bulletin command as a user would, without blocking this test's event loop."""
    environment = {**env, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    if prefork.forkable(environment):
        code, out, err = await prefork.run(args, environment, stdin, timeout_s)
        return code, *captured(args, out, err)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        prefork.COMMAND,
        *args,
        env=environment,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=os.getcwd(),
    )
    async with asyncio.timeout(timeout_s):
        out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, *captured(args, out, err)


CliProcess = prefork.Process | asyncio.subprocess.Process


async def start_cli(
    *args: str,
    env: dict[str, str],
    stdin: int | None = asyncio.subprocess.PIPE,
    stdout: int | None = asyncio.subprocess.PIPE,
    stderr: int | None = asyncio.subprocess.PIPE,
) -> CliProcess:
    """Start a long-running bulletin command (listen, serve, run) as run_cli runs one."""
    leaks.SESSION.used_in(args)
    environment = {**env, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    if prefork.forkable(environment):
        return await prefork.start(args, environment, stdin=stdin, stdout=stdout, stderr=stderr)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", prefork.COMMAND, *args,
        env=environment, stdin=stdin, stdout=stdout, stderr=stderr, cwd=os.getcwd(),
    )  # fmt: skip


def captured(args: Sequence[str], out: bytes, err: bytes) -> tuple[str, str]:
    """A command's stdout and stderr, given to the session's token grep with any token on its
    command line (`bot add <token>`)."""
    leaks.SESSION.used_in(args)
    texts = out.decode(), err.decode()
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").rpartition(" ")[0]
    command = leaks.TOKEN.sub(r"\1:***", " ".join(args[:2]))
    leaks.SESSION.captured(f"the output of `bulletin {command}` in {test}", "\n".join(texts))
    return texts


async def import_records(
    pool: asyncpg.Pool, bot: models.Bot, records: Sequence[dict[str, Any]]
) -> None:
    """Subscribers with exactly these fields (chat_id, first_name, tags, fields, …)."""
    staged = [
        AudienceRecord(
            line=line,
            chat_id=record["chat_id"],
            first_name=record.get("first_name"),
            username=record.get("username"),
            language_code=record.get("language_code"),
            tags=tuple(record.get("tags", ())),
            fields=record.get("fields", {}),
        )
        for line, record in enumerate(records, start=1)
    ]
    async with pool.acquire() as connection, connection.transaction():
        await subscribers.import_staged(connection, bot.id, staged)


async def apply_campaign(pool: asyncpg.Pool, text: str, folder: Path) -> models.Campaign:
    """Create or update a campaign from the text of a campaign file."""
    parsed = document.parse(text, "campaign.yaml", folder=folder)
    async with pool.acquire() as connection:
        campaign, _ = await campaign_rows.apply(connection, parsed)
    return campaign


async def start_run(pool: asyncpg.Pool, name: str, *, again: bool = False) -> models.Run:
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        return await run_rows.start(connection, campaign, again=again)
