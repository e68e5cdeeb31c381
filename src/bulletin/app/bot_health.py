"""The dashboard's Bots page: each bot's health, pace, 429s, lease, subscribers, campaigns,
and its latest run steps. The live part (health) is polled; the rest is read at load."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bulletin.app import activity, dashboard
from bulletin.db import dashboard as dashboard_rows
from bulletin.db.connection import Connection
from bulletin.db.pool import Pool

LATEST_SHOWN = 5
RUNS_LOOKED_AT = 100  # unfinished runs whose sends make up the pace now


@dataclass(frozen=True, slots=True)
class BotLive:
    """What moves: status, pace now vs limit, 429s, lease holder."""

    health: dashboard.BotHealth
    paid_rate_per_s: float | None  # the paid broadcast rate, when the bot may use it
    last_rate_limited_at: datetime | None


@dataclass(frozen=True, slots=True)
class BotPage:
    """One bot as the Bots page shows it."""

    live: BotLive
    subscribed: int = 0
    subscribers: int = 0  # of every status
    campaigns: list[tuple[str, str]] = field(default_factory=list)  # (name, status)
    latest: list[activity.Event] = field(default_factory=list)  # its runs' latest steps


async def _live(connection: Connection) -> list[BotLive]:
    rows = await dashboard_rows.bots(connection)
    runs = await dashboard_rows.shown_runs(connection, 0.0, RUNS_LOOKED_AT)
    unfinished = [run.id for run in runs if run.status in dashboard.UNFINISHED]
    recent = await dashboard_rows.recent_sends(connection, unfinished, dashboard.PACE_WINDOW_S)
    return [
        BotLive(
            health=health,
            paid_rate_per_s=row["paid_rate_per_s"] if row["paid_broadcast"] else None,
            last_rate_limited_at=row["last_rate_limited_at"],
        )
        for row, health in zip(rows, dashboard.health_of(rows, recent), strict=True)
    ]


async def bots_live(pool: Pool) -> list[BotLive]:
    """The Bots page's live part, by name: what its poll reads every 2 s."""
    async with pool.acquire() as connection:
        return await _live(connection)


async def bots_page(pool: Pool) -> list[BotPage]:
    """Every bot, by name, with its subscribers, campaigns and latest run steps."""
    async with pool.acquire() as connection:
        live = await _live(connection)
        counts = await dashboard_rows.bot_subscribers(connection)
        using = await dashboard_rows.bot_campaigns(connection)
        latest = {
            bot.health.id: await dashboard_rows.bot_steps(connection, bot.health.id, LATEST_SHOWN)
            for bot in live
        }
    campaigns: dict[int, list[tuple[str, str]]] = {}
    for used in using:
        campaigns.setdefault(used["bot_id"], []).append((used["name"], used["status"]))
    return [
        BotPage(
            live=bot,
            subscribed=counts.get(bot.health.id, (0, 0))[0],
            subscribers=counts.get(bot.health.id, (0, 0))[1],
            campaigns=campaigns.get(bot.health.id, []),
            latest=[activity.to_event(event) for event in latest[bot.health.id]],
        )
        for bot in live
    ]
