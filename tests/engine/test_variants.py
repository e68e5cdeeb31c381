"""Variants and segments in the run snapshot: a stable split, languages, filters and caps."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import asyncpg

from bulletin import models
from bulletin.db import runs as run_rows
from tests.support import apply_campaign, import_records, start_run

AUDIENCE = 10_000


async def register_plain_bot(pool: asyncpg.Pool) -> models.Bot:
    from bulletin.db import bots as bot_rows

    async with pool.acquire() as connection:
        return await bot_rows.insert(
            connection, bot_id=1, name="news", username="news_bot", token="1:x",
            api_url="http://127.0.0.1:9", rate_per_s=30,
        )  # fmt: skip


async def assignments(pool: asyncpg.Pool, run_id: int) -> dict[int, str]:
    rows = await pool.fetch(
        "SELECT d.chat_id, v.name FROM deliveries d JOIN variants v ON v.id = d.variant_id"
        " WHERE d.run_id = $1",
        run_id,
    )
    return {row["chat_id"]: row["name"] for row in rows}


AB = """
name: ab
bot: news
variants:
  - {name: a, text: "Version A for {{ first_name }}"}
  - {name: b, text: "Version B for {{ first_name }}"}
"""


async def test_ab__50_50_over_10000__even_within_2_percent_and_stable(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    bot = await register_plain_bot(pool)
    await import_records(pool, bot, [{"chat_id": 500_000 + n} for n in range(AUDIENCE)])
    await apply_campaign(pool, AB, tmp_path)

    first = await start_run(pool, "ab")
    await pool.execute("UPDATE runs SET status = 'done' WHERE id = $1", first.id)
    second = await start_run(pool, "ab", again=True)

    async with pool.acquire() as connection:
        counts = await run_rows.variant_counts(connection, first.id)
    shown = {row["variant"]: row["total"] for row in counts}
    assert sum(shown.values()) == AUDIENCE
    assert abs(shown["a"] - AUDIENCE / 2) <= 0.02 * AUDIENCE / 2, shown
    assert await assignments(pool, first.id) == await assignments(pool, second.id)


LANGUAGES = """
name: lang
bot: news
variants:
  - {name: a, text: Hello}
  - {name: b, text: Hi, weight: 3}
  - {name: de, language: de, text: Hallo}
segment:
  tags: {none: [churned]}
caps:
  per_run: 7
  per_hour_per_bot: 60
"""


async def test_languages_segment_caps__snapshot(pool: asyncpg.Pool, tmp_path: Path) -> None:
    bot = await register_plain_bot(pool)
    await import_records(
        pool,
        bot,
        [{"chat_id": 1, "language_code": "de-AT"}, {"chat_id": 2, "language_code": "de"}]
        + [{"chat_id": 10 + n, "language_code": "en"} for n in range(10)]
        + [{"chat_id": 99, "language_code": "de", "tags": ["churned"]}],
    )
    await apply_campaign(pool, LANGUAGES, tmp_path)

    run = await start_run(pool, "lang")

    assert run.audience == 7
    given = await assignments(pool, run.id)
    assert given[1] == given[2] == "de"
    assert 99 not in given
    assert {name for chat, name in given.items() if chat >= 10} <= {"a", "b"}
    due = await pool.fetch("SELECT due_at FROM deliveries WHERE run_id = $1 ORDER BY id", run.id)
    gaps = {
        round((b["due_at"] - a["due_at"]) / timedelta(seconds=1))
        for a, b in itertools.pairwise(due)
    }
    assert gaps == {60}  # 60 an hour: one a minute
