"""The campaigns and variants tables."""

from __future__ import annotations

import asyncpg

from bulletin import errors, models
from bulletin.db.connection import Connection
from bulletin.db.queries import sql


def to_campaign(row: asyncpg.Record) -> models.Campaign:
    return models.Campaign(
        id=row["id"],
        name=row["name"],
        bot_id=row["bot_id"],
        bot_name=row["bot_name"],
        status=models.CampaignStatus(row["status"]),
        paused_reason=row["paused_reason"],
        text=row["text"],
        parse_mode=models.ParseMode(row["parse_mode"]),
        created_at=row["created_at"],
        paid_broadcast=row["paid_broadcast"],
        resend_uncertain=row["resend_uncertain"],
    )


async def create(
    connection: Connection,
    *,
    name: str,
    bot: models.Bot,
    text: str,
    parse_mode: models.ParseMode,
    paid_broadcast: bool = False,
    resend_uncertain: bool = False,
) -> models.Campaign:
    """A draft campaign with one variant, written in one transaction."""
    async with connection.transaction():
        try:
            campaign_id = await connection.fetchval(
                sql("insert_campaign"), name, bot.id, paid_broadcast, resend_uncertain
            )
        except asyncpg.UniqueViolationError:
            raise errors.AlreadyExists(f"a campaign named {name!r} already exists") from None
        await connection.execute(sql("insert_variant"), campaign_id, "a", 1, text, parse_mode.value)
    return await find(connection, name)


async def find(connection: Connection, name: str) -> models.Campaign:
    row = await connection.fetchrow(sql("find_campaign"), name)
    if row is None:
        raise errors.NotFound(f"no campaign named {name!r} (see `bulletin campaign list`)")
    return to_campaign(row)


async def list_all(
    connection: Connection,
) -> list[tuple[models.Campaign, int | None, str | None]]:
    """Every campaign with the id and status of its latest run."""
    rows = await connection.fetch(sql("list_campaigns"))
    return [(to_campaign(row), row["last_run_id"], row["last_run_status"]) for row in rows]


async def set_status(
    connection: Connection,
    campaign_id: int,
    status: models.CampaignStatus,
    reason: str | None = None,
) -> None:
    await connection.execute(sql("set_campaign_status"), campaign_id, status.value, reason)
