"""Creating and changing campaigns: nothing is written whose templates cannot be sent."""

from __future__ import annotations

import json

from bulletin import errors, models
from bulletin.campaign.document import Document
from bulletin.campaign.spec import CampaignSpec
from bulletin.content import check
from bulletin.db import bots as bot_rows
from bulletin.db import campaigns as campaign_rows
from bulletin.db import schedules
from bulletin.db.connection import Connection
from bulletin.db.pool import Pool


async def create(
    pool: Pool,
    *,
    name: str,
    bot: str,
    text: str,
    parse_mode: models.ParseMode,
    paid_broadcast: bool = False,
    resend_uncertain: bool = False,
) -> models.Campaign:
    """A draft campaign with one variant; ContentError, and nothing written, for a bad template."""
    async with pool.acquire() as connection, connection.transaction():
        found = await bot_rows.find(connection, bot)
        campaign = await campaign_rows.create(
            connection,
            name=name,
            bot=found,
            text=text,
            parse_mode=parse_mode,
            paid_broadcast=paid_broadcast,
            resend_uncertain=resend_uncertain,
        )
        spec = (await campaign_rows.design(connection, campaign.id)).spec
        await refuse_bad_content(connection, spec)
        return campaign


async def apply(pool: Pool, parsed: Document) -> tuple[models.Campaign, str]:
    """Create or update a campaign from its file; InputError at the variant's line for a bad
    template, with nothing written."""
    async with pool.acquire() as connection, connection.transaction():
        campaign, outcome = await campaign_rows.apply(connection, parsed)
        if outcome != "unchanged":
            await refuse_bad_content(connection, parsed.spec, parsed)
        return campaign, outcome


async def refuse_bad_content(
    connection: Connection, spec: CampaignSpec, parsed: Document | None = None
) -> None:
    """Every variant compiles, and renders for a few of the segment's subscribers and a hostile
    name: syntax, unknown fields, parse mode and lengths, before anything is kept."""
    _, samples = await schedules.sample(connection, spec, schedules.CHECK_SAMPLES)
    for index, variant in enumerate(spec.variants):
        location: tuple[str | int, ...] = ("variants", index)
        reason: str | None = None
        static = check.variant_template_problems(variant, spec.fields)
        if static:
            location, reason = (*location, *static[0].location), static[0].reason
        else:
            reason = check.variant_problem(variant, spec.name, json.dumps(spec.fields), samples)
        if reason is None:
            continue
        if parsed is not None:
            raise parsed.error(location, reason)
        raise errors.ContentError(
            f"campaign {spec.name!r} not saved: variant {variant.name}: {reason}"
        )
