"""The campaigns table: create, find, apply a designed campaign, pause and cancel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from bulletin import errors, models
from bulletin.campaign import lifecycle, schedule
from bulletin.campaign.document import Document
from bulletin.campaign.lifecycle import Action
from bulletin.campaign.spec import CampaignSpec, Segment
from bulletin.db import variants as variant_rows
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
        next_run_at=row["next_run_at"],
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
    """Every campaign with the number and status of its latest run."""
    rows = await connection.fetch(sql("list_campaigns"))
    return [(to_campaign(row), row["last_run_number"], row["last_run_status"]) for row in rows]


async def set_status(
    connection: Connection,
    campaign_id: int,
    status: models.CampaignStatus,
    reason: str | None = None,
) -> None:
    await connection.execute(sql("set_campaign_status"), campaign_id, status.value, reason)


@dataclass(frozen=True, slots=True)
class Design:
    """A stored campaign as its file shows it, with the state the scheduler keeps."""

    campaign_id: int
    status: models.CampaignStatus
    spec: CampaignSpec
    next_run_at: datetime | None


async def design(connection: Connection, campaign_id: int) -> Design:
    row = await connection.fetchrow(sql("campaign_design"), campaign_id)
    if row is None:
        raise errors.NotFound(f"no campaign with id {campaign_id}")
    spec = CampaignSpec.model_validate(
        {
            "name": row["name"],
            "bot": row["bot_name"],
            "fields": json.loads(row["fields"]),
            "variants": await variant_rows.of_campaign(connection, campaign_id),
            "segment": json.loads(row["segment"]),
            "schedule": json.loads(row["schedule"]),
            "caps": json.loads(row["caps"]),
            "delivery": {
                "paid_broadcast": row["paid_broadcast"],
                "resend_uncertain": row["resend_uncertain"],
            },
        }
    )
    return Design(campaign_id, models.CampaignStatus(row["status"]), spec, row["next_run_at"])


async def apply(connection: Connection, document: Document) -> tuple[models.Campaign, str]:
    """Create or update the campaign a file describes: "created", "updated" or "unchanged"."""
    spec = document.spec
    await check_references(connection, document)
    bot = await _bot_id(connection, spec.bot)
    row = await connection.fetchrow(sql("find_campaign"), spec.name)
    if row is not None and (await design(connection, row["id"])).spec == spec:
        return to_campaign(row), "unchanged"
    columns = (
        json.dumps(spec.fields),
        _json(spec.segment),
        _json(spec.schedule),
        _json(spec.caps),
        spec.delivery.paid_broadcast,
        spec.delivery.resend_uncertain,
    )
    async with connection.transaction():
        if row is None:
            campaign_id = await connection.fetchval(
                sql("insert_designed_campaign"), spec.name, bot, *columns
            )
        else:
            campaign_id = row["id"]
            await connection.execute(sql("update_campaign_design"), campaign_id, bot, *columns)
        await variant_rows.replace(connection, campaign_id, spec.variants)
    return await find(connection, spec.name), "created" if row is None else "updated"


async def check_references(connection: Connection, document: Document) -> None:
    """InputError, at the line that names it, for a bot or a segment tag that does not exist."""
    spec = document.spec
    await _bot_id(connection, spec.bot, document, ("bot",))
    for index, name in enumerate(spec.segment.bots):
        await _bot_id(connection, name, document, ("segment", "bots", index))
    bot_ids = await segment_bot_ids(connection, spec)
    tags = spec.segment.tags
    for kind, named in (("any", tags.any), ("all", tags.all), ("none", tags.none)):
        missing = {
            row["tag"] for row in await connection.fetch(sql("missing_tags"), bot_ids, list(named))
        }
        for index, tag in enumerate(named):
            if tag in missing:
                raise document.error(
                    ("segment", "tags", kind, index),
                    f"no subscriber of {', '.join(spec.segment.bots or (spec.bot,))} "
                    f"has the tag {tag!r}",
                )


async def segment_bot_ids(connection: Connection, spec: CampaignSpec) -> list[int]:
    names = list(spec.segment.bots or (spec.bot,))
    rows = await connection.fetch(sql("bot_ids_by_name"), names)
    found = {row["name"]: row["id"] for row in rows}
    missing = [name for name in names if name not in found]
    if missing:
        raise errors.NotFound(f"the segment names bot {missing[0]!r}, which does not exist")
    return [found[name] for name in names]


def segment_filters(segment: Segment) -> list[Any]:
    """The segment's filters as the positional parameters the segment queries take."""
    return [
        list(segment.tags.any),
        list(segment.tags.all),
        list(segment.tags.none),
        [language.lower() for language in segment.languages],
        [chat_type.value for chat_type in segment.chat_types],
        segment.subscribed_after,
        segment.subscribed_before,
    ]


async def pause(connection: Connection, campaign: models.Campaign, reason: str) -> int:
    """Pause a campaign and its running runs; return how many runs paused."""
    lifecycle.transition(campaign.name, campaign.status, Action.PAUSE)
    paused: int = await connection.fetchval(sql("pause_campaign"), campaign.id, reason)
    return paused


async def cancel(connection: Connection, campaign: models.Campaign) -> tuple[int, int]:
    """Cancel a campaign: (runs cancelled, pending deliveries skipped)."""
    lifecycle.transition(campaign.name, campaign.status, Action.CANCEL)
    row = await connection.fetchrow(sql("cancel_campaign"), campaign.id)
    assert row is not None
    return row["runs"], row["skipped"]


async def _bot_id(
    connection: Connection,
    reference: str,
    document: Document | None = None,
    location: tuple[str | int, ...] = (),
) -> int:
    row = await connection.fetchrow(sql("find_bot"), reference)
    if row is None:
        reason = f"no bot named {reference!r} (see `bulletin bot list`)"
        raise document.error(location, reason) if document else errors.NotFound(reason)
    bot_id: int = row["id"]
    return bot_id


def _json(part: Any) -> str:
    return json.dumps(part.model_dump(mode="json", exclude_defaults=True))


async def arm(connection: Connection, campaign: models.Campaign, now: datetime) -> datetime:
    """Start a campaign's schedule: the scheduler starts its first run at the returned time."""
    lifecycle.transition(campaign.name, campaign.status, Action.START, campaign.paused_reason)
    spec = (await design(connection, campaign.id)).spec
    first = schedule.first_slot(spec.schedule, now)
    if first is None:
        raise errors.BulletinError(f"campaign {campaign.name!r} has no schedule")
    await connection.execute(sql("arm_campaign"), campaign.id, first)
    return first


async def delete(connection: Connection, campaign: models.Campaign) -> tuple[int, int]:
    """Delete a campaign with its runs and deliveries: (runs, deliveries) deleted.

    Refused while a run is unfinished (running or paused): its deliveries may be in
    flight, and a paused run is one `resume` away from sending.
    """
    async with connection.transaction():
        if await connection.fetchval(sql("lock_campaign"), campaign.id) is None:
            raise errors.NotFound(f"no campaign named {campaign.name!r}")
        unfinished = await connection.fetchrow(sql("unfinished_run"), campaign.id)
        if unfinished is not None:
            raise errors.RunUnfinished(
                f"campaign {campaign.name!r} has an unfinished run (run {unfinished['number']}, "
                f"{unfinished['status']}); cancel it first (`bulletin campaign cancel "
                f"{campaign.name}`)"
            )
        row = await connection.fetchrow(sql("delete_campaign"), campaign.id)
    assert row is not None
    return row["runs"], row["deliveries"]
