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
def environment() -> Iterator[dict[str, str]]:
    """Env for the CLI: BULLETIN_DATABASE_URL if set (a fresh database), else an embedded one."""
    folder = Path(tempfile.mkdtemp(prefix="bulletin-bench-"))
    env = {k: v for k, v in os.environ.items() if k != "BULLETIN_CONFIG"}
    env["BULLETIN_DATA_DIR"] = str(folder / "data")
    server_url = os.environ.get("BULLETIN_DATABASE_URL")
    name = f"bulletin_bench_{os.getpid()}"
    if server_url:
        _psql(server_url, f'CREATE DATABASE "{name}"')
        env["BULLETIN_DATABASE_URL"] = server_url.rsplit("/", 1)[0] + "/" + name
    try:
        yield env
    finally:
        if server_url:
            _psql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            from bulletin.db import embedded

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


def prepare_campaign(env: dict[str, str], box: SandboxProcess, name: str, rate: float) -> None:
    cli(env, "init")
    cli(
        env,
        "bot",
        "add",
        box.tokens[0],
        "--name",
        "bench",
        "--api-url",
        box.url,
        "--rate",
        str(rate),
    )
    cli(env, "audience", "import", str(box.audience), "--bot", "bench")
    cli(env, "campaign", "create", name, "--bot", "bench", "--text", "Benchmark <b>message</b>")
