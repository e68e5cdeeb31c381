"""An operator's backend drives bulletin over HTTP: every figure equals what the CLI says."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from bulletin.sandbox import Sandbox, World
from tests.support import register_bot, run_cli
from tests.web.conftest import Served, client, create_token, start_serve, stop_serve

DOCUMENT = {"bot": "news", "variants": [{"name": "a", "text": "Hello {{ first_name }}!"}]}
STATUS_FIGURES = ("status", "audience", "sent", "failed", "blocked", "gone", "skipped",
                  "uncertain", "pending")  # fmt: skip
BACKEND_AUDIENCE = 1000


async def poll_until_done(api: httpx.AsyncClient, path: str) -> dict[str, Any]:
    async with asyncio.timeout(90):
        while True:
            answer = await api.get(path)
            assert answer.status_code == 200, answer.text
            status: dict[str, Any] = answer.json()
            if status["status"] == "done":
                return status
            await asyncio.sleep(0.1)


async def all_failed(api: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    """Every page of the failed deliveries, three at a time (so the keyset is walked)."""
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await api.get(path, params={"outcome": "failed", "limit": 3, "after": after})
        assert page.status_code == 200, page.text
        found += page.json()["deliveries"]
        after = page.json()["next_after"]
        if after is None:
            return found


@pytest.fixture
async def bare_served(
    pool: asyncpg.Pool, cli_env: dict[str, str]
) -> AsyncIterator[tuple[Served, World]]:
    """`serve` with a sandbox bot `news` and no audience yet: the backend brings it."""
    world = World.generate(BACKEND_AUDIENCE, blocked=0.1, gone=0.05, seed=78)
    sandbox_bot = world.add_bot(rate_per_s=1000)
    async with Sandbox(world) as sandbox:
        await register_bot(pool, sandbox, sandbox_bot, "news", 1000)
        running = await start_serve(cli_env)
        try:
            yield running, world
        finally:
            await stop_serve(running)


async def test_api__backend_flow__one_run_per_key_and_figures_equal_the_cli(
    bare_served: tuple[Served, World], cli_env: dict[str, str], tmp_path: Path
) -> None:
    served, world = bare_served
    token = await create_token(cli_env, "admin", "backend")
    async with client(served, token) as api:
        upserted = await api.post(
            "/api/v1/bots/news/subscribers", json={"subscribers": world.audience}
        )
        assert upserted.status_code == 200, upserted.text
        assert upserted.json()["new"] == BACKEND_AUDIENCE
        saved = await api.put("/api/v1/campaigns/launch", json=DOCUMENT)
        assert saved.status_code == 200, saved.text
        assert saved.json() == {"name": "launch", "outcome": "created", "variants": 1}
        preview = await api.post("/api/v1/campaigns/launch/preview")
        assert preview.status_code == 200, preview.text
        code, out, err = await run_cli("campaign", "preview", "launch", "--json", env=cli_env)
        assert code == 0, err
        assert preview.json()["audience"] == json.loads(out)["audience"] == BACKEND_AUDIENCE
        headers = {"Idempotency-Key": "launch-2026-01"}
        first = await api.post("/api/v1/campaigns/launch/start", headers=headers)
        again = await api.post("/api/v1/campaigns/launch/start", headers=headers)
        assert first.status_code == again.status_code == 200, again.text
        assert first.json()["outcome"] == "started"
        assert again.json()["replayed"] is True
        assert again.json()["run"]["run"] == first.json()["run"]["run"] == 1
        status = await poll_until_done(api, "/api/v1/campaigns/launch/runs/1")
        runs = (await api.get("/api/v1/campaigns/launch/runs")).json()
        failed = await all_failed(api, "/api/v1/campaigns/launch/runs/1/deliveries")
        daily = (await api.get("/api/v1/stats/daily", params={"days": 1})).json()

    assert [run["run"] for run in runs] == [1]
    assert status["audience"] == BACKEND_AUDIENCE
    # Every upserted chat is known to the CLI (the blocked and gone ones unsubscribed by now).
    code, out, err = await run_cli("audience", "stats", "--json", env=cli_env)
    assert code == 0, err
    assert sum(row["subscribers"] for row in json.loads(out)) == (BACKEND_AUDIENCE)
    code, out, err = await run_cli("campaign", "status", "launch", "--json", env=cli_env)
    assert code == 0, err
    said = json.loads(out)
    assert {k: status[k] for k in STATUS_FIGURES} == {k: said[k] for k in STATUS_FIGURES}
    assert status["failed"] > 0  # the world has blocked and gone chats
    report = tmp_path / "failed.jsonl"
    code, _, err = await run_cli(
        "campaign", "report", "launch", "--outcome", "failed", "-o", str(report), env=cli_env
    )
    assert code == 0, err
    reported = [json.loads(line) for line in report.read_text().splitlines()]
    assert [d["chat_id"] for d in failed] == [r["chat_id"] for r in reported]
    assert [d["description"] for d in failed] == [r["description"] for r in reported]
    code, out, err = await run_cli("stats", "--days", "1", "--json", env=cli_env)
    assert code == 0, err
    assert daily == json.loads(out)
    assert daily["totals"]["sent"] == status["sent"]


async def test_start__same_key_concurrently__one_run(
    served: Served, cli_env: dict[str, str], pool: asyncpg.Pool
) -> None:
    async with client(served) as api:  # loopback, no token yet: open
        assert (await api.put("/api/v1/campaigns/once", json=DOCUMENT)).status_code == 200
        headers = {"Idempotency-Key": "k1"}
        answers = await asyncio.gather(
            *(api.post("/api/v1/campaigns/once/start", headers=headers) for _ in range(5))
        )
    assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
    assert sum(not a.json()["replayed"] for a in answers) == 1
    assert await pool.fetchval("SELECT count(*) FROM runs") == 1
