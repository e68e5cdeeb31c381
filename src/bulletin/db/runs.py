"""The runs table, and the audience snapshot that starts a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from bulletin import errors, models
from bulletin.db import campaigns as campaign_rows
from bulletin.db.connection import Connection
from bulletin.db.queries import sql


def to_run(row: asyncpg.Record) -> models.Run:
    return models.Run(
        id=row["id"],
        campaign_id=row["campaign_id"],
        campaign_name=row["campaign_name"],
        status=models.RunStatus(row["status"]),
        audience=row["audience"],
        paused_reason=row["paused_reason"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        scheduled_for=row["scheduled_for"],
    )


async def start(
    connection: Connection, campaign: models.Campaign, *, scheduled_for: datetime | None = None
) -> models.Run:
    """Create a run and snapshot its segment into deliveries, atomically.

    A run of a schedule slot (`scheduled_for`) exists at most once: a second start of the
    same slot fails on the unique index and starts nothing.
    """
    if campaign.status is models.CampaignStatus.PAUSED:
        raise errors.BulletinError(
            f"campaign {campaign.name!r} is paused ({campaign.paused_reason}); "
            "fix it and `bulletin campaign resume` first"
        )
    if campaign.status is models.CampaignStatus.CANCELLED:
        raise errors.BulletinError(f"campaign {campaign.name!r} is cancelled")
    spec = (await campaign_rows.design(connection, campaign.id)).spec
    bot_ids = await campaign_rows.segment_bot_ids(connection, spec)
    spacing_s = 3600 / spec.caps.per_hour_per_bot if spec.caps.per_hour_per_bot else 0.0
    async with connection.transaction():
        run_id = await connection.fetchval(sql("insert_scheduled_run"), campaign.id, scheduled_for)
        status = await connection.execute(
            sql("snapshot_segment"),
            run_id,
            campaign.id,
            bot_ids,
            *campaign_rows.segment_filters(spec.segment),
            spec.caps.per_run,
            spacing_s,
        )
        audience = int(status.split()[-1])
        await connection.execute(sql("set_run_audience"), run_id, audience)
        if campaign.status is models.CampaignStatus.DRAFT:
            await connection.execute(
                sql("set_campaign_status"), campaign.id, models.CampaignStatus.ACTIVE.value, None
            )
    return await get(connection, run_id)


async def variant_counts(connection: Connection, run_id: int) -> list[dict[str, Any]]:
    """Deliveries of a run per variant: the results of an A/B test."""
    return [dict(row) for row in await connection.fetch(sql("variant_counts"), run_id)]


async def get(connection: Connection, run_id: int) -> models.Run:
    row = await connection.fetchrow(sql("get_run"), run_id)
    if row is None:
        raise errors.NotFound(f"no run with id {run_id}")
    return to_run(row)


async def latest(connection: Connection, campaign: models.Campaign) -> models.Run:
    row = await connection.fetchrow(sql("latest_run"), campaign.id)
    if row is None:
        raise errors.NotFound(
            f"campaign {campaign.name!r} has no run yet (`bulletin campaign start`)"
        )
    return to_run(row)


async def counts(connection: Connection, run_id: int) -> models.RunCounts:
    row = await connection.fetchrow(sql("run_counts"), run_id)
    assert row is not None
    return models.RunCounts(run_id=run_id, **dict(row))


async def failures(
    connection: Connection, run_id: int, limit: int = 10
) -> list[tuple[str, str | None, int]]:
    """The most common reasons deliveries of a run did not end sent."""
    rows = await connection.fetch(sql("run_failures"), run_id, limit)
    return [(row["failure"], row["error"], row["deliveries"]) for row in rows]


async def active(connection: Connection) -> list[models.Run]:
    return [to_run(row) for row in await connection.fetch(sql("active_runs"))]


async def resume(connection: Connection, campaign: models.Campaign) -> int:
    """Resume a paused campaign and its paused runs; return how many runs resumed."""
    if campaign.status is models.CampaignStatus.CANCELLED:
        raise errors.BulletinError(f"campaign {campaign.name!r} is cancelled; it cannot resume")
    resumed: int = await connection.fetchval(sql("resume_runs"), campaign.id)
    return resumed
