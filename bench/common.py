"""Shared plumbing for the benchmarks: a sandbox process, a database, the CLI, the ledger."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BULLETIN = [sys.executable, "-c", "from bulletin.cli.main import main; main()"]


@dataclass
class SandboxProcess:
    url: str
    tokens: list[str]
    audience: Path
    process: subprocess.Popen[str]

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as answer:
            return json.loads(answer.read())

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def ledger(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.get("/sandbox/ledger")["entries"]
        return entries


@contextlib.contextmanager
def sandbox(folder: Path, *args: str) -> Iterator[SandboxProcess]:
    """`bulletin sandbox` in its own process, so it does not share a CPU core's time with us."""
    audience = folder / "audience.csv"
    process = subprocess.Popen(
        [*BULLETIN, "sandbox", "--port", "0", "--json", "--audience-out", str(audience), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        yield SandboxProcess(ready["url"], ready["tokens"], audience, process)
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def environment(*, require_url: bool = False) -> Iterator[dict[str, str]]:
    """Env for the CLI: a fresh database on BULLETIN_DATABASE_URL's server, else embedded.

    With require_url, an embedded server is started here so the benchmark can reach it too.
    """
    from urllib.parse import urlsplit, urlunsplit

    from bulletin.db import embedded

    folder = Path(tempfile.mkdtemp(prefix="bulletin-bench-"))
    env = {k: v for k, v in os.environ.items() if k != "BULLETIN_CONFIG"}
    env["BULLETIN_DATA_DIR"] = str(folder / "data")
    server_url = os.environ.get("BULLETIN_DATABASE_URL")
    if require_url and not server_url:
        server_url = embedded.start(folder / "data" / "postgres")
    name = f"bulletin_bench_{os.getpid()}"
    if server_url:
        _psql(server_url, f'CREATE DATABASE "{name}"')
        env["BULLETIN_DATABASE_URL"] = urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    try:
        yield env
    finally:
        if server_url:
            _psql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        embedded.stop(folder / "data" / "postgres")
        shutil.rmtree(folder, ignore_errors=True)


def _psql(url: str, statement: str) -> None:
    import asyncio

    import asyncpg

    async def go() -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(go())


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [*BULLETIN, *args], env={**env, "COLUMNS": "200"}, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"bulletin {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def prepare_campaign(env: dict[str, str], box: SandboxProcess, name: str, *bot_flags: str) -> None:
    """init, the sandbox's bot as `bench` (with bot_flags), its audience, one campaign."""
    cli(env, "init")
    cli(env, "bot", "add", box.tokens[0], "--name", "bench", "--api-url", box.url, *bot_flags)
    cli(env, "audience", "import", str(box.audience), "--bot", "bench")
    cli(env, "campaign", "create", name, "--bot", "bench", "--text", "Benchmark <b>message</b>")


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    stdout: str


def measure(env: dict[str, str], *args: str, sample_s: float = 0.05) -> Measured:
    """Run the CLI and sample its resident memory every sample_s."""
    import time

    import psutil

    began = time.monotonic()
    process = subprocess.Popen(
        [*BULLETIN, *args],
        env={**env, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess):
            peak = max(peak, watched.memory_info().rss)
        time.sleep(sample_s)
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"bulletin {' '.join(args)} failed: {err.strip()}")
    return Measured(time.monotonic() - began, peak / 2**20, out)


def span_rate(ledger: list[dict[str, Any]]) -> tuple[float, float]:
    """(messages per second between the first and last accepted message, span in seconds)."""
    times = sorted(entry["at"] for entry in ledger)
    span_s = times[-1] - times[0]
    return (len(times) - 1) / span_s, span_s


FIRST_CHAT_ID = 200_000_000
CITIES = ("Oslo", "Lisbon", "Kyiv", "Lima", "Osaka", "Accra", "Porto", "Quito")
PLANS = ("free", "plus", "pro")


def write_audience(path: Path, size: int) -> None:
    """An audience CSV of size chats: the standard columns, tags, and 3 custom fields."""
    import random

    chooser = random.Random(size)
    with path.open("w", encoding="utf-8") as out:
        out.write("chat_id,first_name,username,language_code,tags,city,plan,signup_day\n")
        for offset in range(size):
            chat_id = FIRST_CHAT_ID + offset
            out.write(
                f"{chat_id},Person {offset},user{chat_id},"
                f"{chooser.choice(('en', 'de', 'es'))},news;{chooser.choice(PLANS)},"
                f"{chooser.choice(CITIES)},{chooser.choice(PLANS)},{offset % 365}\n"
            )


def register_bot(env: dict[str, str], name: str, number: int) -> None:
    """A bot row without getMe, for benchmarks that never talk to Telegram."""
    import asyncio

    import asyncpg

    from bulletin.db import embedded

    url = env.get("BULLETIN_DATABASE_URL") or embedded.start(
        Path(env["BULLETIN_DATA_DIR"]) / "postgres"
    )

    async def go() -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(
                "INSERT INTO bots (id, name, username, token, api_url) VALUES ($1, $2, $2, $3, $4)",
                7_100_000_000 + number,
                name,
                f"{7_100_000_000 + number}:bench",
                "http://127.0.0.1:9",  # never called
            )
        finally:
            await connection.close()

    asyncio.run(go())
