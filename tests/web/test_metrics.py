"""/metrics, /healthz and /readyz of `serve`: figures from the database, whichever process answers."""

from __future__ import annotations

import json

import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from tests.support import run_cli, wait_for
from tests.web.conftest import Served, client, start_serve, stop_serve
from tests.web.test_api_flow import DOCUMENT


async def test_metrics__run_under_serve_workers__delivery_counters_equal_campaign_status(
    cli_env: dict[str, str], pool: asyncpg.Pool, world_bot: object
) -> None:
    served = await start_serve(cli_env, "--workers", "2")
    try:
        async with client(served) as api:
            assert (await api.put("/api/v1/campaigns/news", json=DOCUMENT)).status_code == 200
            assert (await api.post("/api/v1/campaigns/news/start")).status_code == 200
            await wait_for(pool, "SELECT bool_and(status = 'done') FROM runs", timeout_s=90)
            scraped = await api.get("/metrics")
            health = await api.get("/healthz")
            ready = await api.get("/readyz")
    finally:
        output = await stop_serve(served)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    code, out, err = await run_cli("campaign", "status", "news", "--json", env=cli_env)
    assert code == 0, err
    status = json.loads(out)
    for outcome in ("sent", "failed", "skipped", "uncertain"):
        by_bot = ("bulletin_deliveries_total", (("bot", "news"), ("outcome", outcome)))
        by_campaign = (
            "bulletin_campaign_deliveries_total",
            (("bot", "news"), ("campaign", "news"), ("outcome", outcome), ("variant", "a")),
        )
        assert samples[by_bot] == samples[by_campaign] == status[outcome], outcome
    assert samples[("bulletin_pending_deliveries", (("bot", "news"),))] == 0
    chat_ids = {str(row["chat_id"]) for row in await pool.fetch("SELECT chat_id FROM deliveries")}
    label_values = {value for _, labels in samples for _, value in labels}
    assert not chat_ids & label_values
    # The run's changes in the text log format: once each, whichever worker saw them.
    assert output.count(" INFO bulletin.app.run_log action=run_started campaign=news run=1 ") == 1
    finished = f"action=run_finished campaign=news run=1 run_id=1 status=done audience={status['audience']} sent={status['sent']} "
    assert output.count(finished) == 1, output
    assert health.json() == {"status": "ok"}
    assert ready.json() == {"status": "ready"}


async def test_readyz__schema_behind__503(
    cli_env: dict[str, str], pool: asyncpg.Pool, world_bot: object
) -> None:
    served = await start_serve(cli_env, "--workers", "1")
    try:
        await pool.execute("DELETE FROM schema_migrations WHERE version = 10")
        async with client(served) as api:
            ready = await api.get("/readyz")
            alive = await api.get("/healthz")
    finally:
        await pool.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (10, 'api_tokens')"
        )
        await stop_serve(served)
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert "lacks migration(s) 0010" in ready.json()["detail"]
    assert alive.status_code == 200


async def test_metrics__single_process_serve__its_sends_measured_in_the_same_scrape(
    served: Served, pool: asyncpg.Pool
) -> None:
    async with client(served) as api:
        assert (await api.put("/api/v1/campaigns/news", json=DOCUMENT)).status_code == 200
        assert (await api.post("/api/v1/campaigns/news/start")).status_code == 200
        await wait_for(pool, "SELECT bool_and(status = 'done') FROM runs", timeout_s=60)
        scraped = await api.get("/metrics")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    # One send call per delivery sent or failed, and one per retry or 429.
    sends = await pool.fetchval(
        """SELECT (SELECT count(*) FROM deliveries WHERE status IN ('sent', 'failed'))
                + (SELECT count(*) FROM events
                    WHERE kind IN ('delivery.retry', 'delivery.rate_limited'))"""
    )
    assert sends > 0
    assert samples[("bulletin_send_duration_seconds_count", (("bot", "news"),))] == sends
    assert samples[("bulletin_deliveries_total", (("bot", "news"), ("outcome", "sent")))] > 0
