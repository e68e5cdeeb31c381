"""Media uploaded through the API: kept in PostgreSQL, named `upload:<sha256>` by a campaign
document, and sent to Telegram like a local file (uploaded once per bot, then by file_id)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from bulletin.sandbox import Sandbox, World
from tests.support import import_world, register_bot
from tests.web.conftest import Served, client, make_token, start_serve, stop_serve
from tests.web.test_api_flow import poll_until_done

AUDIENCE = 12
MAX_BODY_BYTES = 64 * 1024
PHOTO = b"\x89PNG\r\n\x1a\n" + os.urandom(4000)


@dataclass
class Media:
    served: Served
    sandbox: Sandbox
    world: World


@pytest.fixture
async def media(
    pool: asyncpg.Pool, cli_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[Media]:
    world = World.generate(AUDIENCE, seed=3)
    sandbox_bot = world.add_bot(rate_per_s=500)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "news", 500)
        await import_world(pool, world, bot, tmp_path)
        served = await start_serve({**cli_env, "BULLETIN_WEB__MAX_BODY_BYTES": str(MAX_BODY_BYTES)})
        try:
            yield Media(served, sandbox, world)
        finally:
            await stop_serve(served)


def photo_document(source: str) -> dict[str, object]:
    variant = {"name": "a", "kind": "photo", "media": source, "text": "Look, {{ first_name }}"}
    return {"bot": "news", "variants": [variant]}


async def test_media__uploaded_photo_named_in_a_document__sandbox_gets_its_bytes_once(
    media: Media, pool: asyncpg.Pool
) -> None:
    admin = await make_token(pool, "admin", "backend")
    digest = hashlib.sha256(PHOTO).hexdigest()
    headers = {"Content-Type": "image/png"}
    async with client(media.served, admin) as api:
        first = await api.post(
            "/api/v1/media", params={"filename": "cat.png"}, content=PHOTO, headers=headers
        )
        assert first.status_code == 201, first.text
        again = await api.post(
            "/api/v1/media", params={"filename": "other.png"}, content=PHOTO, headers=headers
        )
        assert first.json()["media"] == again.json()["media"] == f"upload:{digest}"
        assert (first.json()["created"], again.json()["created"]) == (True, False)
        assert again.json()["filename"] == "cat.png"
        assert first.json()["size_bytes"] == len(PHOTO)

        saved = await api.put("/api/v1/campaigns/look", json=photo_document(f"upload:{digest}"))
        assert saved.status_code == 200, saved.text
        started = await api.post("/api/v1/campaigns/look/start")
        assert started.status_code == 200, started.text
        status = await poll_until_done(api, "/api/v1/campaigns/look/runs/1")

    assert status["sent"] == AUDIENCE
    entries = media.sandbox.ledger
    assert len(entries) == AUDIENCE
    assert {e.method for e in entries} == {"sendPhoto"}
    assert sum(1 for e in entries if e.fields["uploaded"]) == 1  # then by file_id
    (file_id,) = {str(e.fields["photo"]) for e in entries}
    stored = media.world.files.by_id[file_id]
    assert (stored.file_unique_id, stored.size) == (digest[:16], len(PHOTO))  # the very bytes
    cached = await pool.fetch("SELECT sha256, kind, file_id FROM media_files")
    assert [tuple(row) for row in cached] == [(digest, "photo", file_id)]
    kept = await pool.fetchrow("SELECT content_type, content FROM media_uploads")
    assert kept is not None
    assert (kept["content_type"], bytes(kept["content"])) == ("image/png", PHOTO)


async def test_media__bad_uploads_and_references__4xx_problem_and_nothing_kept(
    media: Media, pool: asyncpg.Pool
) -> None:
    admin = await make_token(pool, "admin", "backend")
    viewer = await create_viewer(pool)
    unknown = "upload:" + "0" * 64
    async with client(media.served, admin) as api:
        bad = [
            (await api.post("/api/v1/media", content=PHOTO), 422, "query.filename"),
            (await api.post("/api/v1/media", params={"filename": "../x"}, content=PHOTO),
             422, "query.filename"),
            (await api.post("/api/v1/media", params={"filename": "x.png"}, content=b""),
             400, "body"),
            (await api.post("/api/v1/media", params={"filename": "big.png"},
                            content=b"x" * (MAX_BODY_BYTES + 1)), 413, "at most"),
            (await api.put("/api/v1/campaigns/look", json=photo_document(unknown)),
             400, "variants.0.media: no upload"),
            (await api.put("/api/v1/campaigns/look", json=photo_document("upload:cat")),
             400, "variants.0.media"),
            (await api.put("/api/v1/campaigns/look", json=photo_document("/etc/hosts")),
             400, "not a path on the server"),
        ]  # fmt: skip
    for answer, status, named in bad:
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert named in answer.json()["detail"], answer.text
    async with client(media.served, viewer) as api:
        refused = await api.post("/api/v1/media", params={"filename": "x.png"}, content=PHOTO)
        assert refused.status_code == 403, refused.text
    assert await pool.fetchval("SELECT count(*) FROM media_uploads") == 0
    assert await pool.fetchval("SELECT count(*) FROM campaigns") == 0


async def create_viewer(pool: asyncpg.Pool) -> str:
    return await make_token(pool, "viewer", "dashboard")
