"""The Audience, Bots and Activity pages over HTTP: what they show, their filters, their errors."""

from __future__ import annotations

import json
import re

import asyncpg

from bulletin import models
from tests.web.conftest import AUDIENCE, Served, client

ITEM = re.compile(r'<li data-kind="([a-z_.]+)" data-id="(\d+)">')
OLDER = re.compile(r'<a rel="next" href="(/activity\?[^"]+)">')


async def add_events(pool: asyncpg.Pool, bot: models.Bot, retries: int) -> None:
    await pool.execute(
        "INSERT INTO events (kind, bot_id, chat_id, detail)"
        " SELECT 'delivery.retry', $1, 1000 + n, 'Bad Gateway' FROM generate_series(1, $2) n",
        bot.id,
        retries,
    )
    await pool.execute(
        "INSERT INTO events (kind, bot_id, detail) VALUES ('bot.revoked', $1, 'Unauthorized')",
        bot.id,
    )


async def test_activity__many_events__newest_first_in_pages_by_id_with_readable_lines(
    served: Served, pool: asyncpg.Pool, world_bot: models.Bot
) -> None:
    await add_events(pool, world_bot, 60)
    async with client(served) as browser:
        first = await browser.get("/activity")
        assert first.status_code == 200, first.text
        items = ITEM.findall(first.text)
        assert len(items) == 50
        assert items[0][0] == "bot.revoked"
        ids = [int(found) for _, found in items]
        assert ids == sorted(ids, reverse=True)
        assert (
            "Bot news revoked by Telegram (its token no longer works): Unauthorized" in first.text
        )
        assert "No run: chat 1060 will be tried again: Bad Gateway" in first.text
        older = OLDER.search(first.text)
        assert older is not None
        second = await browser.get(older[1].replace("&amp;", "&"))
        rest = [int(found) for _, found in ITEM.findall(second.text)]
        assert len(rest) == 11
        assert max(rest) < min(ids)
        assert OLDER.search(second.text) is None

        # The filters, as the form sends them: blank means every kind, every bot.
        revoked = await browser.get("/activity", params={"kind": "bot.revoked", "bot": ""})
        assert [kind for kind, _ in ITEM.findall(revoked.text)] == ["bot.revoked"]
        by_bot = await browser.get("/activity", params={"kind": "", "bot": "news"})
        assert len(ITEM.findall(by_bot.text)) == 50
        assert '<option value="delivery.retry">' in by_bot.text

        for params, status, said in (
            ({"kind": "'; DROP TABLE events"}, 400, "is not an event kind"),
            ({"bot": "nope"}, 404, "no bot named &#39;nope&#39;"),
            ({"before": "0"}, 400, "before"),
            ({"before": "x"}, 400, "before"),
        ):
            answer = await browser.get("/activity", params=params)
            assert answer.status_code == status, (params, answer.text)
            assert answer.headers["content-type"].startswith("text/html")
            assert said in answer.text, params


async def test_audience__imported_chats__counts_by_status_growth_today_and_sources(
    served: Served, pool: asyncpg.Pool, world_bot: models.Bot
) -> None:
    async with client(served) as browser:
        page = await browser.get("/audience")
        assert page.status_code == 200, page.text
        subscribed = await pool.fetchval(
            "SELECT count(*) FROM subscribers WHERE status = 'subscribed'"
        )
        assert f'<td class="n" data-count="subscribed">{subscribed}</td>' in page.text
        data = re.search(
            r'<script type="application/json" id="growth-data">(.*?)</script>', page.text
        )
        assert data is not None
        growth = json.loads(data[1])
        assert len(growth["t"]) == len(growth["subscribed"]) == len(growth["opted_out"]) == 30
        assert growth["subscribed"][-1] == AUDIENCE  # today's import, from the rollup
        assert sum(growth["subscribed"][:-1]) == 0
        assert (
            f'<tr data-source="import"><td class="text">import</td><td class="n">{AUDIENCE}'
            in page.text
        )

        one = await browser.get("/audience", params={"bot": "news"})
        assert one.status_code == 200
        assert "Audience of news" in one.text
        missing = await browser.get("/audience", params={"bot": "nope"})
        assert missing.status_code == 404
        assert "no bot named" in missing.text


async def test_bots__a_bot_with_subscribers__its_health_pace_subscribers_and_campaigns(
    served: Served, world_bot: models.Bot
) -> None:
    async with client(served) as browser:
        page = await browser.get("/bots")
        assert page.status_code == 200, page.text
        assert '<li class="card" data-bot="news">' in page.text
        assert "/ 500</dd>" in page.text  # the bot's limit
        assert '<dd data-figure="subscribed">' in page.text
        assert "Campaigns:" in page.text
        # The poll swaps each bot's health in place, by id (htmx out-of-band swaps).
        live = await browser.get("/fragments/bots")
        assert live.status_code == 200
        assert live.text.lstrip().startswith(
            f'<div class="health" id="health-{world_bot.id}" hx-swap-oob="true">'
        )
        assert f'id="health-{world_bot.id}"' in page.text
