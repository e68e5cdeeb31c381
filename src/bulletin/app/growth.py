"""The dashboard's Audience page: subscribers by bot and status, growth and opt-outs per day,
and where subscribers came from.

Growth is read from the daily rollups (daily_bot_stats), kept by the writes that change
subscribers: 30 rows per bot, never a scan of subscribers per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bulletin import models
from bulletin.db import bots as bot_rows
from bulletin.db import dashboard as dashboard_rows
from bulletin.db import stats as stat_rows
from bulletin.db import subscribers as subscriber_rows
from bulletin.db.pool import Pool

DAYS = 30
SOURCES_SHOWN = 20
STATUSES = tuple(status.value for status in models.SubscriberStatus)


@dataclass(frozen=True, slots=True)
class Growth:
    """Per UTC day, oldest first, every day of the span (0 where nothing happened)."""

    days: list[date]
    subscribed: list[int]
    opted_out: list[int]

    @property
    def total_subscribed(self) -> int:
        return sum(self.subscribed)

    @property
    def total_opted_out(self) -> int:
        return sum(self.opted_out)

    def as_json(self) -> dict[str, Any]:
        """The chart's data: each day as Unix seconds of its midnight UTC."""
        midnights = [int(datetime.combine(d, time(), UTC).timestamp()) for d in self.days]
        return {"t": midnights, "subscribed": self.subscribed, "opted_out": self.opted_out}


@dataclass(frozen=True, slots=True)
class BotAudience:
    bot: str
    by_status: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True, slots=True)
class AudiencePage:
    bot: str | None  # the filter: one bot's audience, or every bot's
    bot_names: list[str]  # the filter's choices
    bots: list[BotAudience]
    growth: Growth
    sources: list[dict[str, Any]]


def fill_days(rows: list[dict[str, Any]], today: date, days: int = DAYS) -> Growth:
    """The rollup rows (one per bot and day, days without any left out) summed per day,
    over the `days` days ending today."""
    span = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
    subscribed = dict.fromkeys(span, 0)
    opted_out = dict.fromkeys(span, 0)
    for row in rows:
        if row["day"] in subscribed:
            subscribed[row["day"]] += row["subscribed"]
            opted_out[row["day"]] += row["opted_out"]
    return Growth(span, list(subscribed.values()), list(opted_out.values()))


async def audience_page(pool: Pool, bot: str | None = None) -> AudiencePage:
    """Everything the Audience page shows, for one bot (by name) or all; NotFound for no bot."""
    async with pool.acquire() as connection:
        bot_id = (await bot_rows.find(connection, bot)).id if bot else None
        counts = await subscriber_rows.counts(connection, bot_id)
        rollups = await stat_rows.by_bot(connection, bot_id, DAYS)
        sources = await dashboard_rows.sources(connection, bot_id, SOURCES_SHOWN)
        names = await dashboard_rows.bot_names(connection)
    per_bot: dict[str, dict[str, int]] = {}
    for name, status, subscribers in counts:
        per_bot.setdefault(name, dict.fromkeys(STATUSES, 0))[status] = subscribers
    shown = [BotAudience(name, statuses) for name, statuses in sorted(per_bot.items())]
    return AudiencePage(bot, names, shown, fill_days(rollups, datetime.now(UTC).date()), sources)
