"""An operator's backend manages bots over HTTP: what `bot add | list | set | remove` do,
with no token in any answer and no Bot API server but the config's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from bulletin.sandbox import Sandbox, World
from bulletin.sandbox.world import Bot as SandboxBot
from tests.support import import_world, register_bot, run_cli
from tests.web.conftest import Served, client, make_token, start_serve, stop_serve

DOCUMENT = {"bot": "news", "variants": [{"name": "a", "text": "Hello {{ first_name }}!"}]}


@dataclass
class Bots:
    served: Served
    sandbox: Sandbox
    news: SandboxBot  # registered as `news`, with an audience
    spare: SandboxBot  # known to the sandbox, not registered yet
    env: dict[str, str]


@pytest.fixture
async def bots(pool: asyncpg.Pool, cli_env: dict[str, str], tmp_path: Path) -> AsyncIterator[Bots]:
    world = World.generate(10, seed=5)
    news, spare = world.add_bot(rate_per_s=500), world.add_bot(rate_per_s=500)
    async with Sandbox(world) as sandbox:
        registered = await register_bot(pool, sandbox, news, "news", 500)
        await import_world(pool, world, registered, tmp_path)
        env = {**cli_env, "BULLETIN_WEB__BOT_API_URLS": sandbox.url}
        served = await start_serve(env)
        try:
            yield Bots(served, sandbox, news, spare, env)
        finally:
            await stop_serve(served)


async def test_bots__add_list_patch_delete__as_the_cli_and_no_token_shown(
    bots: Bots, pool: asyncpg.Pool
) -> None:
    admin = await make_token(pool, "admin", "backend")
    url = bots.sandbox.url
    async with client(bots.served, admin) as api:
        added = await api.post(
            "/api/v1/bots",
            json={"token": bots.spare.token, "name": "promo", "api_url": url, "rate_per_s": 50},
        )
        assert added.status_code == 201, added.text
        assert added.json() == {
            "name": "promo", "username": bots.spare.username, "id": bots.spare.id,
            "api_url": url, "rate_per_s": 50.0, "status": "active", "paid_broadcast": False,
            "subscribed": 0, "proxies": [],
        }  # fmt: skip
        again = await api.post("/api/v1/bots", json={"token": bots.spare.token, "api_url": url})
        assert again.status_code == 409, again.text
        assert "already registered as 'promo'" in again.json()["detail"]

        changed = await api.patch("/api/v1/bots/promo", json={"rate_per_s": 12.5})
        assert changed.status_code == 200, changed.text
        assert changed.json()["rate_per_s"] == 12.5
        paid = await api.patch("/api/v1/bots/promo", json={"paid_broadcast": True})
        assert paid.json()["paid_broadcast"] is True
        assert paid.json()["rate_per_s"] == 12.5  # what the patch leaves out stays

        listed = await api.get("/api/v1/bots")
        assert listed.status_code == 200, listed.text
        for token in (bots.news.token, bots.spare.token):
            secret = token.split(":", 1)[1]
            for answer in (added, changed, paid, listed):
                assert secret not in answer.text
                assert f":…{secret[-4:]}" not in answer.text  # nor the masked token

    code, out, err = await run_cli("bot", "list", "--json", env=bots.env)
    assert code == 0, err
    said = [{k: v for k, v in row.items() if k != "token"} for row in json.loads(out)]
    assert listed.json() == said
    assert {row["name"]: row["rate_per_s"] for row in said} == {"news": 500.0, "promo": 12.5}

    async with client(bots.served, admin) as api:
        saved = await api.put("/api/v1/campaigns/launch", json=DOCUMENT)
        assert saved.status_code == 200, saved.text
        used = await api.delete("/api/v1/bots/news")
        assert used.status_code == 409, used.text
        assert used.json()["detail"] == "bot 'news' is used by campaigns launch; remove them first"
        removed = await api.delete("/api/v1/bots/promo")
        assert removed.status_code == 200, removed.text
        assert removed.json() == {"name": "promo", "id": bots.spare.id, "removed": True}
        gone = await api.delete("/api/v1/bots/promo")
        assert gone.status_code == 404, gone.text
        assert [b["name"] for b in (await api.get("/api/v1/bots")).json()] == ["news"]


async def test_bots__bad_requests__4xx_problem_naming_what_and_nothing_kept(
    bots: Bots, pool: asyncpg.Pool
) -> None:
    admin = await make_token(pool, "admin", "backend")
    viewer = await make_token(pool, "viewer", "dashboard")
    url = bots.sandbox.url
    spare = {"token": bots.spare.token, "api_url": url}
    bad = [
        ({"token": 5, "api_url": url}, 422, "body.token"),
        ({"token": "not a token", "api_url": url}, 422, "body.token"),
        ({**spare, "colour": "red"}, 422, "body.colour"),
        ({**spare, "rate_per_s": 0}, 422, "body.rate_per_s"),
        ({**spare, "api_url": "http://169.254.169.254/latest"}, 400, "api_url:"),
        ({**spare, "proxies": ["http://proxy.example:3128"]}, 400, "proxies.0:"),
        ({**spare, "proxies": ["ftp://x"]}, 400, "needs a scheme"),
        ({"token": f"{bots.spare.id}:wrongsecret", "api_url": url}, 400, "rejected token"),
    ]
    async with client(bots.served, admin) as api:
        for body, status, named in bad:
            answer = await api.post("/api/v1/bots", json=body)
            assert answer.status_code == status, (body, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert named in answer.json()["detail"], (body, answer.text)
        moved = await api.patch("/api/v1/bots/news", json={"api_url": "http://127.0.0.1:9/"})
        assert moved.status_code == 400, moved.text
        assert moved.json()["detail"].startswith("api_url:")
        missing = await api.patch("/api/v1/bots/nobody", json={"rate_per_s": 2})
        assert missing.status_code == 404, missing.text
    async with client(bots.served, viewer) as api:
        assert (await api.get("/api/v1/bots")).status_code == 200
        refused = [
            await api.post("/api/v1/bots", json=spare),
            await api.patch("/api/v1/bots/news", json={"rate_per_s": 1}),
            await api.delete("/api/v1/bots/news"),
        ]
        assert [answer.status_code for answer in refused] == [403, 403, 403]
    rows = await pool.fetch("SELECT name, api_url, rate_per_s FROM bots")
    assert [tuple(row) for row in rows] == [("news", url, 500.0)]
