"""`serve --workers 3`, two bots delivering through the sandbox: one /metrics for every process,
its counters equal to `campaign status`, no chat in any label, each run logged once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bulletin import models
from bulletin.sandbox import Sandbox, World
from tests.support import import_world, register_bot, run_cli, wait_for
from tests.web.conftest import client, start_serve, stop_serve

CAMPAIGNS = {"news": "alerts", "deals": "offers"}  # campaign -> its bot
OUTCOMES = ("sent", "failed", "skipped", "uncertain")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class TwoBots:
    sandbox: Sandbox
    world: World
    bots: dict[str, models.Bot]


@pytest.fixture
async def two_bots(pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[TwoBots]:
    """Two sandbox bots, each with the same 40 chats as its audience (some blocked, some gone)."""
    world = World.generate(40, blocked=0.1, gone=0.05, seed=78)
    sandbox_bots = {name: world.add_bot(rate_per_s=400) for name in CAMPAIGNS.values()}
    async with Sandbox(world) as sandbox:
        bots = {}
        for name, sandbox_bot in sandbox_bots.items():
            bots[name] = await register_bot(pool, sandbox, sandbox_bot, name, 400)
            await import_world(pool, world, bots[name], tmp_path)
        yield TwoBots(sandbox, world, bots)


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def log_records(output: str) -> list[dict[str, Any]]:
    """The JSON log lines of serve and of its workers (whose lines carry a `[worker N]` prefix)."""
    records = []
    for raw in output.splitlines():
        text = raw.split("] ", 1)[1] if raw.startswith("[worker ") else raw
        if text.startswith("{"):
            records.append(json.loads(text))
    return records


async def status_of(campaign: str, env: dict[str, str]) -> dict[str, Any]:
    code, out, err = await run_cli("campaign", "status", campaign, "--json", env=env)
    assert code == 0, err
    status: dict[str, Any] = json.loads(out)
    return status


@pytest.mark.slow  # about 30 s on 2 busy cores: four processes start, two runs go out
async def test_metrics__serve_3_workers_2_bots__one_scrape_equals_campaign_status(
    cli_env: dict[str, str], pool: asyncpg.Pool, two_bots: TwoBots
) -> None:
    env = {**cli_env, "BULLETIN_LOG__FORMAT": "json"}
    served = await start_serve(env, "--workers", "3")
    try:
        async with client(served) as api:
            for campaign, bot in CAMPAIGNS.items():
                document = {"bot": bot, "variants": [{"name": "a", "text": "Hi {{ first_name }}"}]}
                saved = await api.put(f"/api/v1/campaigns/{campaign}", json=document)
                assert saved.status_code == 200, saved.text
                started = await api.post(f"/api/v1/campaigns/{campaign}/start")
                assert started.status_code == 200, started.text
            query = "SELECT count(*) = 2 AND bool_and(status = 'done') FROM runs"
            await wait_for(pool, query, timeout_s=90)
            scraped = await api.get("/metrics")
    finally:
        output = await stop_serve(served)
    assert scraped.status_code == 200
    samples = parse(scraped.text)

    found = await asyncio.gather(*(status_of(campaign, cli_env) for campaign in CAMPAIGNS))
    statuses = dict(zip(CAMPAIGNS, found, strict=True))
    sends = 0
    for campaign, bot in CAMPAIGNS.items():
        status = statuses[campaign]
        assert status["sent"] > 0
        for outcome in OUTCOMES:
            by_bot = ("bulletin_deliveries_total", (("bot", bot), ("outcome", outcome)))
            labels = (("bot", bot), ("campaign", campaign), ("outcome", outcome), ("variant", "a"))
            by_campaign = ("bulletin_campaign_deliveries_total", labels)
            assert samples[by_bot] == samples[by_campaign] == status[outcome], (bot, outcome)
        # Every send call answered: a final one per delivery sent or failed, plus retries and 429s.
        rate_limited = await pool.fetchval(
            "SELECT count(*) FROM events WHERE run_id = $1 AND kind = 'delivery.rate_limited'",
            status["run_id"],
        )
        expected_sends = status["sent"] + status["failed"] + status["retried"] + rate_limited
        count = samples[("bulletin_send_duration_seconds_count", (("bot", bot),))]
        assert count == expected_sends, bot
        sends += expected_sends
        limit = samples[("bulletin_pace_limit_messages_per_second", (("bot", bot),))]
        assert limit in (0, 400)  # the lease holder's limit while it holds it; 0 once released
    assert sends == two_bots.sandbox.stats.requests  # serve made no other Bot API call

    chat_ids = {str(chat_id) for chat_id in two_bots.world.chats}
    label_values = {value for _, labels in samples for _, value in labels}
    assert label_values
    assert not chat_ids & label_values
    assert not any(bot.token in scraped.text for bot in two_bots.bots.values())

    assert "metrics_not_shared" not in output  # the supervisor counts into the directory too
    records = log_records(output)
    logged = Counter(
        (record["campaign"], record["action"])
        for record in records
        if record.get("action") in ("run_started", "run_finished")
    )
    assert logged == {(c, a): 1 for c in CAMPAIGNS for a in ("run_started", "run_finished")}
    for record in records:
        if record.get("action") == "run_finished":
            sent = statuses[record["campaign"]]["sent"]
            assert record["level"] == "info"
            assert (record["status"], int(record["sent"])) == ("done", sent)
