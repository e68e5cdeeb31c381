"""An operator's backend keeps a bot's audience over HTTP: what it writes, the CLI reads back.

One `bulletin serve` for the module (starting one costs seconds); each test has its own bot.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import TEMPLATE_DB, with_database
from tests.support import run_cli
from tests.web.conftest import Served, client, create_token, start_serve, stop_serve

FIRST_CHAT_ID = 300_000_000
BOT_NUMBERS = itertools.count(1)
CSV_HEADER = "chat_id,first_name,username,language_code,tags,city\n"


@pytest.fixture(scope="module")
async def module_database(admin_url: str, template_url: str) -> AsyncIterator[str]:
    """A fresh migrated database for this module's one server."""
    name = f"bulletin_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
        yield with_database(admin_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def env(module_database: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("api-audience")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BULLETIN_")}
    environment["BULLETIN_DATABASE_URL"] = module_database
    environment["BULLETIN_DATA_DIR"] = str(folder / "data")
    environment["BULLETIN_WEB__LISTEN"] = "127.0.0.1:0"
    return environment


@pytest.fixture(scope="module")
async def db(module_database: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(module_database, min_size=1, max_size=3) as opened:
        yield opened


@pytest.fixture(scope="module")
async def served(env: dict[str, str]) -> AsyncIterator[Served]:
    running = await start_serve(env)
    try:
        yield running
    finally:
        await stop_serve(running)


@pytest.fixture(scope="module")
async def tokens(env: dict[str, str]) -> dict[str, str]:
    return {
        "admin": await create_token(env, "admin", "backend"),
        "viewer": await create_token(env, "viewer", "dashboard"),
    }


@pytest.fixture
async def api(served: Served, tokens: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with client(served, tokens["admin"]) as opened:
        yield opened


@pytest.fixture
async def bot(db: asyncpg.Pool) -> str:
    """A bot of its own for each test, with no audience; it never sends anything."""
    number = next(BOT_NUMBERS)
    name = f"news{number}"
    await db.execute(
        "INSERT INTO bots (id, name, username, token, api_url) VALUES ($1, $2, $2, $3, $4)",
        7_200_000_000 + number,
        name,
        f"{7_200_000_000 + number}:secret{number}",
        "http://127.0.0.1:9",  # never called: nothing is sent in this module
    )
    return name


def people(count: int, start: int = FIRST_CHAT_ID) -> list[dict[str, Any]]:
    return [
        {
            "chat_id": start + offset,
            "first_name": f"Person {offset}",
            "username": f"@user{offset}",
            "language_code": ("en", "de", "pt-BR")[offset % 3],
            "tags": ["news", ("free", "plus")[offset % 2]],
            "fields": {"city": ("Oslo", "=Lima")[offset % 2], "visits": offset},
        }
        for offset in range(count)
    ]


def moments(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its times as datetimes: JSON may spell UTC as Z or as +00:00."""
    times = {key: datetime.fromisoformat(record[key]) for key in ("created_at", "updated_at")}
    return {**record, **times}


async def cli(env: dict[str, str], *args: str) -> str:
    code, out, err = await run_cli(*args, env=env)
    assert code == 0, err
    return out


async def subscriber_count(db: asyncpg.Pool, bot: str) -> int:
    found: int = await db.fetchval(
        "SELECT count(*) FROM subscribers s JOIN bots b ON b.id = s.bot_id WHERE b.name = $1", bot
    )
    return found


async def test_upsert__1000_subscribers__cli_stats_and_export_show_exactly_them(
    api: httpx.AsyncClient, env: dict[str, str], bot: str
) -> None:
    sent = people(1000)
    answer = await api.post(f"/api/v1/bots/{bot}/subscribers", json={"subscribers": sent})
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert (summary["new"], summary["known"], summary["opted_out"]) == (1000, 0, 0)
    assert summary["summary"] == ["imported 1,000 new and merged 0 known subscribers (0 changed)"]

    stats = json.loads(await cli(env, "audience", "stats", "--bot", bot, "--json"))
    assert stats == [{"bot": bot, "status": "subscribed", "subscribers": 1000}]
    exported = await cli(env, "audience", "export", "--bot", bot, "--format", "jsonl")
    rows = [json.loads(line) for line in exported.splitlines()]
    assert [row["chat_id"] for row in rows] == [person["chat_id"] for person in sent]
    assert rows[1]["username"] == "user1"
    assert rows[2]["language_code"] == "pt-br"
    assert rows[1]["tags"] == ["news", "plus"]
    assert (rows[1]["city"], rows[1]["visits"], rows[1]["source"]) == ("=Lima", "1", "api")

    again = await api.post(f"/api/v1/bots/{bot}/subscribers", json={"subscribers": sent})
    assert again.status_code == 200, again.text
    assert {k: again.json()[k] for k in ("new", "known", "changed", "unchanged")} == {
        "new": 0, "known": 1000, "changed": 0, "unchanged": 1000,
    }  # fmt: skip


async def test_upsert__opted_out_and_forgotten_chats__never_subscribed_again(
    api: httpx.AsyncClient, db: asyncpg.Pool, bot: str
) -> None:
    first = people(4)
    assert (
        await api.post(f"/api/v1/bots/{bot}/subscribers", json={"subscribers": first})
    ).is_success
    stopped, blocked, forgotten = (person["chat_id"] for person in first[:3])
    await db.execute(
        "UPDATE subscribers SET status = CASE chat_id WHEN $1 THEN 'unsubscribed' ELSE 'blocked' END"
        " WHERE chat_id = ANY($2::bigint[])",
        stopped,
        [stopped, blocked],
    )
    forgot = await api.delete(f"/api/v1/bots/{bot}/subscribers/{forgotten}")
    assert forgot.status_code == 200, forgot.text

    renamed = [{**person, "first_name": "Again"} for person in first]
    answer = await api.post(f"/api/v1/bots/{bot}/subscribers", json={"subscribers": renamed})
    assert answer.status_code == 200, answer.text
    assert {k: answer.json()[k] for k in ("new", "known", "opted_out", "forgotten")} == {
        "new": 0, "known": 3, "opted_out": 2, "forgotten": 1,
    }  # fmt: skip
    assert "2 known chats opted out and stay so" in answer.json()["summary"]
    statuses = {}
    for chat_id in (stopped, blocked, forgotten):
        shown = await api.get(f"/api/v1/bots/{bot}/subscribers/{chat_id}")
        statuses[chat_id] = (
            shown.json()["status"] if shown.status_code == 200 else shown.status_code
        )
    assert statuses == {stopped: "unsubscribed", blocked: "blocked", forgotten: 404}


async def test_upsert__10001_subscribers__422_naming_the_field_nothing_written(
    api: httpx.AsyncClient, db: asyncpg.Pool, bot: str
) -> None:
    batch = [{"chat_id": FIRST_CHAT_ID + offset} for offset in range(10_001)]
    answer = await api.post(f"/api/v1/bots/{bot}/subscribers", json={"subscribers": batch})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == "body.subscribers"
    assert "10000" in answer.json()["detail"]
    assert await subscriber_count(db, bot) == 0


BAD_SUBSCRIBERS = [
    pytest.param({"chat_id": 1, "language_code": "english"}, "language_code", id="bad-language"),
    pytest.param({"chat_id": 1, "last_name": "Doe"}, "last_name", id="unknown-field"),
    pytest.param({"chat_id": "abc"}, "chat_id", id="chat-id-not-a-number"),
    pytest.param({"chat_id": 0}, "chat_id", id="chat-id-zero"),
    pytest.param({"chat_id": 2**60}, "chat_id", id="chat-id-out-of-range"),
    pytest.param({"chat_id": 1, "tags": [1]}, "tags", id="tag-not-text"),
    pytest.param({"chat_id": 1, "fields": {"status": "subscribed"}}, "fields", id="field-a-column"),
    pytest.param({"chat_id": 1, "fields": {"plan": {"a": 1}}}, "fields", id="field-an-object"),
    pytest.param({"chat_id": 1, "first_name": "Nul\u0000"}, "first_name", id="nul"),
    pytest.param({"chat_id": 1, "first_name": "\ud800"}, "first_name", id="lone-surrogate"),
]


async def test_upsert__a_bad_field__422_naming_it_nothing_written(
    api: httpx.AsyncClient, db: asyncpg.Pool, bot: str
) -> None:
    for case in BAD_SUBSCRIBERS:
        bad, named = case.values
        body = json.dumps({"subscribers": [*people(2), bad]}).encode()
        answer = await api.post(
            f"/api/v1/bots/{bot}/subscribers",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert answer.status_code == 422, (case.id, answer.text)
        assert answer.json()["field"].startswith(f"body.subscribers.2.{named}"), (
            case.id,
            answer.text,
        )
        assert named in answer.json()["detail"], (case.id, answer.text)
    unknown = await api.post("/api/v1/bots/nobody/subscribers", json={"subscribers": people(1)})
    assert unknown.status_code == 404, unknown.text
    assert await subscriber_count(db, bot) == 0


async def test_import_upload__same_summary_as_the_cli__a_bad_line_422_nothing_written(
    api: httpx.AsyncClient, env: dict[str, str], db: asyncpg.Pool, bot: str, tmp_path: Path
) -> None:
    good = CSV_HEADER + "".join(
        f"{FIRST_CHAT_ID + n},Ann {n},ann{n},en,vip,Oslo\n" for n in range(5)
    )
    bad = good + "12x,Bob,bob,en,,Lima\n" + "-0,Eve,eve,en,,Kyiv\n"
    url = f"/api/v1/bots/{bot}/imports"
    csv_type = {"content-type": "text/csv"}
    refused = await api.post(url, content=bad.encode(), headers=csv_type)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith(
        "upload:7: chat_id '12x' is not an integer; 2 invalid"
    )
    assert await subscriber_count(db, bot) == 0
    not_utf8 = await api.post(url, content=good.encode() + b"9,\xff\n", headers=csv_type)
    assert not_utf8.status_code == 422, not_utf8.text
    assert not_utf8.json()["detail"] == "upload:7: not valid UTF-8 text"
    too_big = await api.post(url, content=b"1\n" * 600_000, headers={"content-type": "text/plain"})
    assert too_big.status_code == 413, too_big.text
    excel = await api.post(
        url, content=good.encode(), headers={"content-type": "application/vnd.ms-excel"}
    )
    assert excel.status_code == 415, excel.text
    assert await subscriber_count(db, bot) == 0

    accepted = await api.post(url, content=good.encode(), headers=csv_type, params={"tag": "web"})
    assert accepted.status_code == 200, accepted.text
    twin = f"{bot}twin"
    await db.execute(
        "INSERT INTO bots (id, name, username, token, api_url)"
        " SELECT id + 100000, $2, $2, token || 'twin', api_url FROM bots WHERE name = $1",
        bot,
        twin,
    )
    path = tmp_path / "audience.csv"
    path.write_text(good)
    said = await cli(env, "audience", "import", str(path), "--bot", twin, "--tag", "web")
    assert accepted.json()["summary"] == said.splitlines()
    assert accepted.json()["custom_fields"] == ["city"]
    exported = await cli(env, "audience", "export", "--bot", bot, "--format", "jsonl")
    assert [json.loads(line)["tags"] for line in exported.splitlines()] == [["vip", "web"]] * 5

    ids = await api.post(
        url, content=b"# plain ids\n1\n2\n", headers={"content-type": "text/plain"}
    )
    jsonl = await api.post(
        url,
        content=b'{"chat_id": 3, "plan": "pro"}\n',
        headers={"content-type": "application/x-ndjson"},
    )
    assert (ids.json()["new"], jsonl.json()["new"]) == (2, 1), (ids.text, jsonl.text)


async def test_export__streams_the_bytes_the_cli_export_writes(
    api: httpx.AsyncClient, env: dict[str, str], bot: str, tmp_path: Path
) -> None:
    sent = people(2500)
    sent[7]["first_name"] = "Line\rbreak"
    posted = await api.post(f"/api/v1/bots/{bot}/subscribers", json={"subscribers": sent})
    assert posted.status_code == 200, posted.text
    url = f"/api/v1/bots/{bot}/subscribers/export"
    cases: list[tuple[list[str], dict[str, Any]]] = [
        ([], {}),
        (["--format", "jsonl", "--status", "subscribed"], {"format": "jsonl", "status": "subscribed"}),
        (["--raw", "--tag", "plus", "--language", "pt", "--without-tag", "vip",
          "--subscribed-after", "2000-01-01"],
         {"raw": "true", "tag": "plus", "language": "pt", "without_tag": "vip",
          "subscribed_after": "2000-01-01"}),
        (["--status", "blocked"], {"status": "blocked"}),
    ]  # fmt: skip
    for number, (options, params) in enumerate(cases):
        path = tmp_path / f"export-{number}"
        await cli(env, "audience", "export", "--bot", bot, "-o", str(path), *options)
        async with api.stream("GET", url, params=params) as answer:
            assert answer.status_code == 200, await answer.aread()
            pieces = [piece async for piece in answer.aiter_raw()]
        assert b"".join(pieces) == path.read_bytes(), options
    assert (tmp_path / "export-0").read_bytes().count(b"\n") == 2501  # every chat, the header
    csv = await api.get(url)
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    bad = await api.get(url, params={"subscribed_after": "yesterday"})
    assert bad.status_code == 400, bad.text
    assert "subscribed_after 'yesterday'" in bad.json()["detail"]
    unknown = await api.get("/api/v1/bots/nobody/subscribers/export")
    assert unknown.status_code == 404, unknown.text


async def test_subscriber__get_then_delete__forgotten_as_the_cli_forgets(
    api: httpx.AsyncClient, env: dict[str, str], bot: str
) -> None:
    person = people(1)[0]
    assert (
        await api.post(f"/api/v1/bots/{bot}/subscribers", json={"subscribers": [person]})
    ).is_success
    url = f"/api/v1/bots/{bot}/subscribers/{person['chat_id']}"
    shown = await api.get(url)
    assert shown.status_code == 200, shown.text
    exported = await cli(env, "audience", "export", "--bot", bot, "--format", "jsonl")
    line = json.loads(exported)
    expected = {k: v for k, v in line.items() if k not in ("city", "visits")}
    assert moments(shown.json()) == moments({**expected, "fields": {"city": "Oslo", "visits": "0"}})

    forgot = await api.delete(url)
    assert forgot.status_code == 200, forgot.text
    assert forgot.json()["erased"] is True
    assert forgot.json()["message"].startswith(
        f"forgot chat {person['chat_id']}: personal data erased for 1"
    )
    missing = await api.get(url)
    assert missing.status_code == 404, missing.text
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await api.delete(url)).json()["erased"] is False
    stats = json.loads(await cli(env, "audience", "stats", "--bot", bot, "--json"))
    assert stats == []


async def test_audience_writes__viewer_token__403_and_nothing_written(
    served: Served, tokens: dict[str, str], db: asyncpg.Pool, bot: str
) -> None:
    async with client(served, tokens["viewer"]) as viewer:
        upsert = await viewer.post(
            f"/api/v1/bots/{bot}/subscribers", json={"subscribers": people(1)}
        )
        upload = await viewer.post(f"/api/v1/bots/{bot}/imports", content=b"1\n")
        forget = await viewer.delete(f"/api/v1/bots/{bot}/subscribers/1")
        export = await viewer.get(f"/api/v1/bots/{bot}/subscribers/export")
    assert [upsert.status_code, upload.status_code, forget.status_code] == [403, 403, 403]
    assert export.status_code == 200, export.text
    assert await subscriber_count(db, bot) == 0
    tombstones = await db.fetchval(
        "SELECT count(*) FROM forgotten_chats f JOIN bots b ON b.id = f.bot_id WHERE b.name = $1",
        bot,
    )
    assert tombstones == 0
