"""Daily stats: the rollups per bot, or per campaign and variant, for a span of UTC days."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bulletin import errors
from bulletin.db import bots as bot_rows
from bulletin.db import campaigns as campaign_rows
from bulletin.db import stats as stat_rows
from bulletin.db.pool import Pool

MAX_DAYS = 3660  # ten years: a bound that keeps the query's date arithmetic sane
# The counts of every row and of the totals, in the order they are shown.
BOT_COUNTS = (
    "sent", "failed", "blocked", "gone", "skipped", "uncertain", "rate_limited",
    "subscribed", "opted_out",
)  # fmt: skip
CAMPAIGN_COUNTS = tuple(name for name in BOT_COUNTS if name != "subscribed")


@dataclass(frozen=True, slots=True)
class DailyStats:
    """Rows of one day each (per bot, or per variant of one campaign) and their totals."""

    by: str  # "bot" or "variant": what each row is about besides its day
    counts: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        return {name: sum(row[name] for row in self.rows) for name in self.counts}

    def as_json(self) -> dict[str, Any]:
        return {
            "days": [{**row, "day": row["day"].isoformat()} for row in self.rows],
            "totals": self.totals,
        }


async def daily(
    pool: Pool, *, bot: str | None = None, campaign: str | None = None, days: int = 30
) -> DailyStats:
    """`bulletin stats`: per bot (all, or one), or per variant of one campaign (as sent by
    one bot, given both)."""
    if not 1 <= days <= MAX_DAYS:
        raise errors.InputError(f"--days must be between 1 and {MAX_DAYS}, not {days}")
    async with pool.acquire() as connection:
        bot_id = (await bot_rows.find(connection, bot)).id if bot is not None else None
        if campaign is not None:
            found = await campaign_rows.find(connection, campaign)
            rows = await stat_rows.by_campaign(connection, found.id, days, bot_id)
            return DailyStats("variant", CAMPAIGN_COUNTS, rows)
        return DailyStats("bot", BOT_COUNTS, await stat_rows.by_bot(connection, bot_id, days))
