"""Steering campaigns over HTTP: preview, check, pause, resume, cancel, list and delete, each
the CLI's use case, with the database showing what the answer says."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from bulletin.sandbox import Sandbox, World
from tests.support import eventually, import_world, register_bot, run_cli
from tests.web.conftest import Served, client, make_token, start_serve, stop_serve

AUDIENCE = 40
RATE = 2.0  # msgs/s: a run lasts long enough to be paused, resumed and cancelled midway
DOCUMENT = {"bot": "slow", "variants": [{"name": "a", "text": "Hi {{ first_name }}!"}]}


@dataclass
class Steered:
    served: Served
    sandbox: Sandbox
    world: World
    env: dict[str, str]


@pytest.fixture
async def steered(
    pool: asyncpg.Pool, cli_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[Steered]:
    world = World.generate(AUDIENCE, seed=9)
    sandbox_bot = world.add_bot(rate_per_s=500)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "slow", RATE)
        await import_world(pool, world, bot, tmp_path)
        served = await start_serve(cli_env)
        try:
            yield Steered(served, sandbox, world, cli_env)
        finally:
            await stop_serve(served)


async def post(api: httpx.AsyncClient, path: str, status: int = 200, **kwargs: Any) -> Any:
    answer = await api.post(path, **kwargs)
    assert answer.status_code == status, answer.text
    return answer.json()


async def run_row(pool: asyncpg.Pool) -> tuple[str, str, int, int]:
    """(campaign status, run status, pending deliveries, skipped deliveries)."""
    row = await pool.fetchrow(
        "SELECT c.status AS campaign, r.status AS run,"
        " count(*) FILTER (WHERE d.status = 'pending') AS pending,"
        " count(*) FILTER (WHERE d.status = 'skipped') AS skipped"
        " FROM campaigns c JOIN runs r ON r.campaign_id = c.id"
        " JOIN deliveries d ON d.run_id = r.id GROUP BY c.status, r.status"
    )
    assert row is not None
    return row["campaign"], row["run"], row["pending"], row["skipped"]


async def test_campaign_actions__preview_check_pause_resume_cancel_delete__as_the_cli(
    steered: Steered, pool: asyncpg.Pool
) -> None:
    admin = await make_token(pool, "admin", "backend")
    base = "/api/v1/campaigns/promo"
    async with client(steered.served, admin) as api:
        assert (await api.put(base, json=DOCUMENT)).status_code == 200
        preview = await post(api, f"{base}/preview", params={"samples": 2})
        # Before the run: after it, a one-shot campaign reaches only chats it has not reached.
        code, out, err = await run_cli(
            "campaign", "preview", "promo", "--samples", "2", "--json", env=steered.env
        )
        assert code == 0, err
        assert json.loads(out) == preview
        checked = await post(api, f"{base}/check")
        not_started = await post(api, f"{base}/resume", 409)
        assert "has not started" in not_started["detail"]
        started = await post(api, f"{base}/start")
        assert started["outcome"] == "started"
        refused = await api.delete(base)
        assert refused.status_code == 409, refused.text

        paused = await post(api, f"{base}/pause")
        assert paused == {
            "campaign": "promo", "action": "pause", "status": "paused", "runs": 1, "skipped": None,
        }  # fmt: skip
        campaign, run, pending, _ = await run_row(pool)
        assert (campaign, run) == ("paused", "paused")
        assert pending > 0
        resumed = await post(api, f"{base}/resume")
        assert resumed == {**paused, "action": "resume", "status": "active"}
        assert (await run_row(pool))[:2] == ("active", "running")
        cancelled = await post(api, f"{base}/cancel")
        campaign, run, pending, skipped = await run_row(pool)
        assert (campaign, run, pending) == ("cancelled", "cancelled", 0)
        assert cancelled == {
            "campaign": "promo", "action": "cancel", "status": "cancelled", "runs": 1,
            "skipped": skipped,
        }  # fmt: skip
        assert skipped > 0
        for action in ("pause", "resume", "cancel"):
            late = await post(api, f"{base}/{action}", 409)
            assert late["detail"].startswith("campaign 'promo' is cancelled"), late
        listed = (await api.get("/api/v1/campaigns")).json()

    assert preview["audience"] == AUDIENCE
    assert len(preview["samples"]) == 2
    assert preview["samples"][0]["message"].startswith("[text] Hi ")
    assert checked == {
        "campaign": "promo", "passed": True, "audience": AUDIENCE, "problems": [],
        "test_chat": None,
    }  # fmt: skip
    code, out, err = await run_cli("campaign", "list", "--json", env=steered.env)
    assert code == 0, err
    assert listed == json.loads(out)
    assert [(c["name"], c["status"], c["last_run"]) for c in listed] == [("promo", "cancelled", 1)]

    async with client(steered.served, admin) as api:
        deleted = await api.delete(base)
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {
            "campaign": "promo", "deleted": True, "runs": 1, "deliveries": AUDIENCE,
        }  # fmt: skip
        assert (await api.get("/api/v1/campaigns")).json() == []
        assert (await api.delete(base)).status_code == 404


async def test_campaign_check__test_chat__every_variant_sent_there_first(
    steered: Steered,
) -> None:
    chat = min(steered.world.chats)
    document = {**DOCUMENT, "variants": [
        {"name": "a", "text": "Hi {{ first_name }}!"},
        {"name": "b", "text": "Hello {{ first_name }}!"},
    ]}  # fmt: skip
    async with client(steered.served) as api:
        assert (await api.put("/api/v1/campaigns/promo", json=document)).status_code == 200
        checked = await post(api, "/api/v1/campaigns/promo/check", json={"test_chat": chat})
    assert checked["passed"] is True, checked
    assert checked["test_chat"] == chat
    await eventually(lambda: len([e for e in steered.sandbox.ledger if e.chat_id == chat]) >= 2)
    assert {e.text.split()[0] for e in steered.sandbox.ledger} == {"Hi", "Hello"}


async def test_campaign_actions__bad_requests_and_viewer__4xx_problem_nothing_changed(
    steered: Steered, pool: asyncpg.Pool
) -> None:
    admin = await make_token(pool, "admin", "backend")
    viewer = await make_token(pool, "viewer", "dashboard")
    base = "/api/v1/campaigns/promo"
    async with client(steered.served, admin) as api:
        assert (await api.put(base, json=DOCUMENT)).status_code == 200
        bad = [
            (await api.post(f"{base}/preview", params={"samples": 51}), 422, "query.samples"),
            (await api.post(f"{base}/check", json={"test_chat": "me"}), 422, "body.test_chat"),
            (await api.post(f"{base}/check", json={"chat": 1}), 422, "body.chat"),
            (await api.post("/api/v1/campaigns/nobody/pause"), 404, "'nobody'"),
            (await api.post("/api/v1/campaigns/nobody/preview"), 404, "'nobody'"),
        ]
    for answer, status, named in bad:
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert named in answer.json()["detail"], answer.text
    async with client(steered.served, viewer) as api:
        assert (await api.get("/api/v1/campaigns")).status_code == 200
        for action in ("pause", "cancel", "preview", "check"):
            assert (await api.post(f"{base}/{action}")).status_code == 403, action
        assert (await api.delete(base)).status_code == 403
    assert await pool.fetchval("SELECT status FROM campaigns") == "draft"
    assert await pool.fetchval("SELECT count(*) FROM runs") == 0
