"""Bad requests: a 4xx problem naming the field, never a 500, and nothing written."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.web.conftest import Served, client

GOOD_VARIANT = {"name": "a", "text": "Hi {{ first_name }}"}
BAD_DOCUMENTS = [
    pytest.param({"bot": "news", "variants": [{"name": "a", "text": 5}]}, "variants.0.text",
                 id="wrong-type"),
    pytest.param({"bot": "news", "variants": [GOOD_VARIANT], "colour": "red"}, "'colour'",
                 id="unknown-field"),
    pytest.param({"bot": "news", "variants": [{**GOOD_VARIANT, "extra": 1}]}, "variants.0",
                 id="unknown-variant-field"),
    pytest.param({"bot": "news", "variants": [{"name": "a", "text": "Hi {{ first_name"}]},
                 "variants.0.text", id="template-error"),
    pytest.param({"bot": "news", "variants": [{"name": "a", "kind": "photo",
                  "media": "/etc/passwd"}]}, "variants.0.media", id="server-path"),
    pytest.param({"bot": "news", "variants": [{"name": "a", "kind": "photo",
                  "media": "photos/cat.jpg"}]}, "variants.0.media", id="relative-path"),
    pytest.param({"bot": "news", "variants": [{"name": "a", "text": "Hi\u0000"}]},
                 "variants.0.text", id="nul-character"),
    pytest.param({"name": "other", "bot": "news", "variants": [GOOD_VARIANT]}, "name",
                 id="name-differs"),
    pytest.param({"bot": "nobody", "variants": [GOOD_VARIANT]}, "nobody", id="unknown-bot"),
]  # fmt: skip


async def nothing_written(pool: asyncpg.Pool) -> None:
    assert await pool.fetchval("SELECT count(*) FROM campaigns") == 0


async def test_put_campaign__bad_documents__4xx_problem_naming_the_field(
    served: Served, pool: asyncpg.Pool
) -> None:
    async with client(served) as api:
        for case in BAD_DOCUMENTS:
            document, named = case.values
            answer = await api.put("/api/v1/campaigns/bad", json=document)
            assert 400 <= answer.status_code < 500, (case.id, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert named in answer.json()["detail"], (case.id, answer.text)
            assert answer.json()["status"] == answer.status_code
    await nothing_written(pool)


async def test_put_campaign__10_mb_body__413(served: Served, pool: asyncpg.Pool) -> None:
    body = b'{"bot": "news", "x": "' + b"a" * 10 * 1024 * 1024 + b'"}'
    async with client(served) as api:
        declared = await api.put("/api/v1/campaigns/big", content=body)

        async def chunks() -> Any:
            for start in range(0, len(body), 65536):
                yield body[start : start + 65536]

        streamed = await api.put(
            "/api/v1/campaigns/big", content=chunks(), headers={"content-type": "application/json"}
        )
    for answer in (declared, streamed):
        assert answer.status_code == 413, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "at most 1,048,576 bytes" in answer.json()["detail"]
    await nothing_written(pool)


async def test_put_campaign__invalid_utf8_or_not_json__4xx_naming_the_body(
    served: Served, pool: asyncpg.Pool
) -> None:
    headers = {"content-type": "application/json"}
    async with client(served) as api:
        for content in (b'{"bot": "\xff\xfe"}', b"{not json", b"[1, 2]"):
            answer = await api.put("/api/v1/campaigns/bad", content=content, headers=headers)
            assert answer.status_code in (400, 422), answer.text
            assert answer.json()["field"].startswith("body"), answer.text
    await nothing_written(pool)


async def test_api__bad_query_and_path__422_never_500(served: Served) -> None:
    async with client(served) as api:
        for path in (
            "/api/v1/stats/daily?days=0",
            "/api/v1/stats/daily?days=x",
            "/api/v1/stats/daily?bot=%00",
            "/api/v1/campaigns/x/runs/0",
            "/api/v1/campaigns/x/runs/99999999999",
            "/api/v1/campaigns/x/runs/1/deliveries?outcome=lost",
        ):
            answer = await api.get(path)
            assert answer.status_code == 422, (path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        missing = await api.get("/api/v1/campaigns/nothing/runs/1")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no campaign named 'nothing' (see `bulletin campaign list`)"
