"""The dashboard's Bots page: each bot's health, pace, 429s, lease, subscribers, campaigns,
and its latest events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bulletin.app import activity, dashboard
from bulletin.db import dashboard as dashboard_rows
from bulletin.db.pool import Pool

LATEST_SHOWN = 5
RUNS_LOOKED_AT = 100  # unfinished runs whose sends make up the pace now


@dataclass(frozen=True, slots=True)
class BotPage:
    """One bot as the Bots page shows it."""

    health: dashboard.BotHealth  # status, pace now vs limit, 429s of the hour, lease holder
    paid_rate_per_s: float | None  # the paid broadcast rate, when the bot may use it
    last_rate_limited_at: datetime | None
    lease_expires_at: datetime | None
    subscribed: int
    subscribers: int  # of every status
    campaigns: list[tuple[str, str]]  # (name, status) of the campaigns sending through it
    latest: list[activity.Event]  # its runs' latest steps and revocations


async def bots_page(pool: Pool) -> list[BotPage]:
    """Every bot, by name."""
    async with pool.acquire() as connection:
        rows = await dashboard_rows.bots(connection)
        runs = await dashboard_rows.shown_runs(connection, 0.0, RUNS_LOOKED_AT)
        unfinished = [run.id for run in runs if run.status in dashboard.UNFINISHED]
        recent = await dashboard_rows.recent_sends(connection, unfinished, dashboard.PACE_WINDOW_S)
        using = await dashboard_rows.bot_campaigns(connection)
        latest = {
            row["id"]: await dashboard_rows.bot_steps(connection, row["id"], LATEST_SHOWN)
            for row in rows
        }
    campaigns: dict[int, list[tuple[str, str]]] = {}
    for used in using:
        campaigns.setdefault(used["bot_id"], []).append((used["name"], used["status"]))
    return [
        BotPage(
            health=health,
            paid_rate_per_s=row["paid_rate_per_s"] if row["paid_broadcast"] else None,
            last_rate_limited_at=row["last_rate_limited_at"],
            lease_expires_at=row["lease_expires_at"] if row["worker_id"] else None,
            subscribed=row["subscribed"],
            subscribers=row["subscribers"],
            campaigns=campaigns.get(row["id"], []),
            latest=[activity.to_event(event) for event in latest[row["id"]]],
        )
        for row, health in zip(rows, dashboard.health_of(rows, recent), strict=True)
    ]
