"""What the dashboard reads beyond `campaign status`: runs shown, the pace now, bot health,
a run's sends over time and its errors by Telegram's description."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bulletin import models
from bulletin.db import runs as run_rows
from bulletin.db.connection import Connection
from bulletin.db.queries import sql


async def shown_runs(
    connection: Connection, finished_within_s: float, limit: int
) -> list[models.Run]:
    """Unfinished runs, then those finished within `finished_within_s`, newest first."""
    rows = await connection.fetch(sql("dashboard_runs"), finished_within_s, limit)
    return [run_rows.to_run(row) for row in rows]


async def recent_sends(
    connection: Connection, run_ids: Sequence[int], window_s: float
) -> list[dict[str, Any]]:
    """Messages sent in the last `window_s` seconds per (run_id, bot_id)."""
    rows = await connection.fetch(sql("dashboard_recent_sends"), list(run_ids), window_s)
    return [dict(row) for row in rows]


async def bot_health(connection: Connection) -> list[dict[str, Any]]:
    """Every bot with its lease holder and its 429s of the last hour."""
    return [dict(row) for row in await connection.fetch(sql("dashboard_bot_health"))]


async def throughput(connection: Connection, run_id: int, bucket_s: int) -> list[tuple[int, int]]:
    """(bucket start as Unix seconds, messages sent in it), buckets with none left out."""
    rows = await connection.fetch(sql("dashboard_throughput"), run_id, bucket_s)
    return [(row["bucket"], row["sent"]) for row in rows]


async def run_errors(connection: Connection, run_id: int, limit: int) -> list[dict[str, Any]]:
    """Deliveries not sent, grouped by the last description Telegram gave."""
    return [dict(row) for row in await connection.fetch(sql("dashboard_run_errors"), run_id, limit)]


async def variant_results(connection: Connection, run_id: int) -> list[dict[str, Any]]:
    """Deliveries of a run per variant: sent, failed, blocked, pending."""
    rows = await connection.fetch(sql("dashboard_variant_results"), run_id)
    return [dict(row) for row in rows]


async def sources(connection: Connection, bot_id: int | None, limit: int) -> list[dict[str, Any]]:
    """Subscribers per source (a deep link's /start payload, an import's --source), most first."""
    return [dict(row) for row in await connection.fetch(sql("dashboard_sources"), bot_id, limit)]


async def bots(connection: Connection) -> list[dict[str, Any]]:
    """Every bot with its lease holder and its 429s (last hour, last ever)."""
    return [dict(row) for row in await connection.fetch(sql("dashboard_bots"))]


async def bot_subscribers(connection: Connection) -> dict[int, tuple[int, int]]:
    """bot id: (subscribed, subscribers of every status), for bots with any."""
    rows = await connection.fetch(sql("dashboard_bot_subscribers"))
    return {row["bot_id"]: (row["subscribed"], row["subscribers"]) for row in rows}


async def bot_campaigns(connection: Connection) -> list[dict[str, Any]]:
    """(bot_id, campaign name, status) of every campaign that sends through each bot."""
    return [dict(row) for row in await connection.fetch(sql("dashboard_bot_campaigns"))]


async def events(
    connection: Connection, kind: str | None, bot_id: int | None, before: int, limit: int
) -> list[dict[str, Any]]:
    """Events with ids below `before`, newest first, with their bot's, run's and campaign's names."""
    rows = await connection.fetch(sql("dashboard_events"), kind, bot_id, before, limit)
    return [dict(row) for row in rows]


async def event_kinds(connection: Connection) -> list[str]:
    """Every kind of event recorded, in order."""
    return [row["kind"] for row in await connection.fetch(sql("dashboard_event_kinds"))]


async def bot_names(connection: Connection) -> list[str]:
    """Every bot's name, in order: the filters' choices."""
    return [row["name"] for row in await connection.fetch(sql("dashboard_bot_names"))]


async def bot_steps(connection: Connection, bot_id: int, limit: int) -> list[dict[str, Any]]:
    """A bot's latest run steps (run.started, run.finished, …) and revocations, newest first."""
    rows = await connection.fetch(sql("dashboard_bot_steps"), bot_id, limit)
    return [dict(row) for row in rows]
