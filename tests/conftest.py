"""Shared fixtures: real PostgreSQL (a fresh database per test) and the sandbox over real HTTP.

With BULLETIN_TEST_DATABASE_URL set, databases are made on that server; otherwise an
embedded PostgreSQL is started in a temporary directory for the session. Every session ends
with the token grep (tests/leaks.py): no bot token in any log file or captured output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bulletin import config
from bulletin.db import embedded, migrations
from bulletin.sandbox.world import Bot as SandboxBot
from bulletin.sandbox.world import World
from tests import leaks

TEMPLATE_DB = f"bulletin_template_{os.getpid()}"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def recording(add_bot: Callable[..., SandboxBot]) -> Callable[..., SandboxBot]:
    """World.add_bot that tells the session's token grep about every token it hands out."""

    def add_bot_recorded(world: World, *args: object, **kwargs: object) -> SandboxBot:
        bot = add_bot(world, *args, **kwargs)
        leaks.SESSION.used(bot.token)
        return bot

    return add_bot_recorded


@pytest.fixture(scope="session", autouse=True)
def token_grep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[leaks.TokenGrep]:
    """At the end of this process's session: no token it used in any log file under its
    own base temp (each xdist worker has one) or in any output it captured."""
    grep = leaks.SESSION
    grep.folders.append(tmp_path_factory.getbasetemp())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(World, "add_bot", recording(World.add_bot))
        yield grep
    found = grep.leaks()
    assert not found, "bot tokens leaked:\n" + "\n".join(map(str, found))


@pytest.fixture(scope="session")
def admin_url() -> Iterator[str]:
    """A PostgreSQL server for the session: the configured one or an embedded one."""
    configured = os.environ.get("BULLETIN_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    # Outside pytest's tmp dirs: another pytest run rotates those away under a live server.
    folder = Path(tempfile.mkdtemp(prefix="bulletin-test-pg-"))
    folder.chmod(0o755)  # run as root, the server's own user must reach it
    try:
        yield embedded.start(folder / "postgres")
    finally:
        embedded.stop(folder / "postgres")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def open_tmp_path() -> Iterator[Path]:
    """A temporary folder others may enter (run as root, the embedded server's user must),
    with any embedded cluster in it stopped after."""
    folder = Path(tempfile.mkdtemp(prefix="bulletin-open-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for pid_file in folder.rglob("postmaster.pid"):
            embedded.stop(pid_file.parent)
        leaks.SESSION.captured_logs(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_url(admin_url: str) -> AsyncIterator[str]:
    """A database migrated once, copied for every test."""
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        url = with_database(admin_url, TEMPLATE_DB)
        connection = await asyncpg.connect(url)
        try:
            await migrations.apply(connection)
        finally:
            await connection.close()
        yield url
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
    finally:
        await admin.close()


class Databases:
    """Makes each test's database from the template and drops it in the background, so no
    test waits for the files of the one before to go; all are gone when the session ends."""

    def __init__(self, creating: asyncpg.Connection, dropping: asyncpg.Connection) -> None:
        self.creating, self.dropping = creating, dropping
        self.unwanted: asyncio.Queue[str] = asyncio.Queue()
        self.dropper = asyncio.create_task(self._drop_each())

    async def create(self) -> str:
        name = f"bulletin_test_{uuid.uuid4().hex[:12]}"
        await self.creating.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
        # Waiting for each commit's WAL flush only matters if the server crashes, which no
        # test does to this server (those that restart PostgreSQL start their own).
        await self.creating.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        return name

    async def _drop_each(self) -> None:
        while True:
            name = await self.unwanted.get()
            try:
                await self.dropping.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                self.unwanted.task_done()

    async def close(self) -> None:
        await self.unwanted.join()
        self.dropper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.dropper


@pytest.fixture(scope="session")
async def databases(admin_url: str, template_url: str) -> AsyncIterator[Databases]:
    creating = await asyncpg.connect(admin_url)
    dropping = await asyncpg.connect(admin_url)
    made = Databases(creating, dropping)
    try:
        yield made
        await made.close()
    finally:
        await creating.close()
        await dropping.close()


@pytest.fixture
async def database_url(admin_url: str, databases: Databases) -> AsyncIterator[str]:
    """A fresh, migrated database for one test, dropped afterwards."""
    name = await databases.create()
    yield with_database(admin_url, name)
    databases.unwanted.put_nowait(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> config.Settings:
    return config.load(
        None,
        {},
        {
            "database_url": database_url,
            "data_dir": tmp_path / "data",
            "worker": {"flush_interval_s": 0.05, "poll_interval_s": 0.1, "backoff_base_s": 0.05},
        },
    )


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for running the `bulletin` command against this test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLETIN_")}
    env["BULLETIN_DATABASE_URL"] = database_url
    env["BULLETIN_DATA_DIR"] = str(tmp_path / "data")
    env["BULLETIN_WORKER__POLL_INTERVAL_S"] = "0.1"
    env["BULLETIN_WORKER__BACKOFF_BASE_S"] = "0.05"
    env["BULLETIN_WEB__LISTEN"] = (
        "127.0.0.1:0"  # serve's API on a free port: tests run side by side
    )
    return env
