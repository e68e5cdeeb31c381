"""Tests for the named SQL blocks, and for small pure helpers of bulletin.models."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

import bulletin
from bulletin import models
from bulletin.db import queries

PACKAGE_DIR = Path(bulletin.__file__).parent
QUERIES_FILE = PACKAGE_DIR / "db" / "sql" / "queries.sql"

# Looser than the loader's header pattern on purpose: a header it would not recognise
# (upper case, digits, trailing text) is still counted here, so the counts then differ.
ANY_HEADER = re.compile(r"^--\s*name\s*:\s*(\S+)", re.MULTILINE | re.IGNORECASE)
SQL_CALL = re.compile(r"\bsql\(\s*(?P<arg>[^)]*?)\s*\)")
LITERAL = re.compile(r"""^(["'])(?P<name>[^"']+)\1$""")


def headers_in_file() -> list[str]:
    return ANY_HEADER.findall(QUERIES_FILE.read_text("utf-8"))


def sql_calls_in_source() -> list[tuple[Path, str]]:
    calls: list[tuple[Path, str]] = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if path == PACKAGE_DIR / "db" / "queries.py":
            continue
        calls.extend((path, m["arg"]) for m in SQL_CALL.finditer(path.read_text("utf-8")))
    return calls


# ───────────────────────────── queries.sql ─────────────────────────────


def test_queries_file__is_the_packaged_one() -> None:
    assert QUERIES_FILE.is_file()
    assert len(headers_in_file()) > 10


def test_names__every_header_in_the_file__loaded() -> None:
    headers = headers_in_file()

    assert sorted(queries.names()) == sorted(set(headers))
    assert len(queries.names()) == len(headers)


def test_names__in_the_file__unique() -> None:
    duplicates = [name for name, count in Counter(headers_in_file()).items() if count > 1]

    assert duplicates == []


@pytest.mark.parametrize("name", queries.names())
def test_sql__every_block__has_a_statement(name: str) -> None:
    statement_lines = [
        line
        for line in queries.sql(name).splitlines()
        if line.strip() and not line.lstrip().startswith("--")
    ]

    assert statement_lines, f"block {name} holds no SQL"
    assert "-- name:" not in queries.sql(name)


def test_sql__unknown_name__key_error() -> None:
    with pytest.raises(KeyError, match="no_such_query"):
        queries.sql("no_such_query")


def test_source__every_sql_call__a_literal_name() -> None:
    calls = sql_calls_in_source()

    dynamic = [(str(path), arg) for path, arg in calls if not LITERAL.match(arg)]

    assert len(calls) > 10
    assert dynamic == []


def test_source__every_sql_name_used__exists() -> None:
    known = set(queries.names())
    used = {
        (str(path.relative_to(PACKAGE_DIR)), match["name"])
        for path, arg in sql_calls_in_source()
        if (match := LITERAL.match(arg))
    }

    missing = sorted((path, name) for path, name in used if name not in known)

    assert missing == []


# ───────────────────────────── models.mask_token ─────────────────────────────

SECRET = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX"
TOKEN = f"123456789:{SECRET}"


def test_mask_token__real_token__bot_id_and_last_four() -> None:
    assert models.mask_token(TOKEN) == "123456789:…sawX"


@pytest.mark.parametrize(
    "token",
    [
        TOKEN,
        "1:abcdefghijklmnop",
        "42:" + "x" * 5 + "TAIL",
        "7:sec:ret:with:colons",
    ],
)
def test_mask_token__any_token__secret_hidden_but_last_four(token: str) -> None:
    secret = token.partition(":")[2]

    masked = models.mask_token(token)

    hidden = secret[:-4]
    assert hidden not in masked
    # No run of 5 consecutive secret characters survives.
    assert not any(secret[i : i + 5] in masked for i in range(len(secret) - 4))
    assert masked.endswith(secret[-4:])


@pytest.mark.parametrize("token", ["", "no-colon-here-at-all", "123456789:"])
def test_mask_token__no_secret_part__nothing_shown(token: str) -> None:
    masked = models.mask_token(token)

    assert masked.endswith("…")
    assert "no-colon" not in masked


def test_bot__masked_token__uses_mask_token() -> None:
    bot = models.Bot(
        id=123456789,
        name="news",
        username="news_bot",
        token=TOKEN,
        api_url=models.DEFAULT_API_URL,
        rate_per_s=25.0,
        status=models.BotStatus.ACTIVE,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
    )

    assert bot.masked_token == "123456789:…sawX"
    assert SECRET not in bot.masked_token


# ───────────────────────────── models.ChatType.from_chat_id ─────────────────────────────


@pytest.mark.parametrize(
    ("chat_id", "expected"),
    [
        pytest.param(1, models.ChatType.PRIVATE, id="smallest-user"),
        pytest.param(123456789, models.ChatType.PRIVATE, id="user"),
        pytest.param(7_999_999_999, models.ChatType.PRIVATE, id="large-user"),
        pytest.param(-1, models.ChatType.GROUP, id="smallest-group"),
        pytest.param(-4_123_456_789, models.ChatType.GROUP, id="group"),
        pytest.param(-999_999_999_999, models.ChatType.GROUP, id="last-group"),
        pytest.param(-1_000_000_000_000, models.ChatType.SUPERGROUP, id="boundary"),
        pytest.param(-1_001_234_567_890, models.ChatType.SUPERGROUP, id="supergroup"),
        pytest.param(-1_009_999_999_999, models.ChatType.SUPERGROUP, id="channel-shaped"),
    ],
)
def test_chat_type_from_chat_id__by_id_range(chat_id: int, expected: models.ChatType) -> None:
    assert models.ChatType.from_chat_id(chat_id) is expected
