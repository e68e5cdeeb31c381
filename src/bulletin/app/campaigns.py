"""Creating and changing campaigns: nothing is written whose templates cannot be sent."""

from __future__ import annotations

import json

from bulletin import errors, models
from bulletin.app import preflight
from bulletin.campaign import document
from bulletin.campaign.document import Document
from bulletin.campaign.spec import CampaignSpec
from bulletin.content import check, media
from bulletin.db import bots as bot_rows
from bulletin.db import campaigns as campaign_rows
from bulletin.db import media as media_rows
from bulletin.db import runs as run_rows
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
    await refuse_missing_uploads(connection, spec, parsed)
    _, samples = await preflight.sample(connection, spec, preflight.CHECK_SAMPLES)
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


async def refuse_missing_uploads(
    connection: Connection, spec: CampaignSpec, parsed: Document | None = None
) -> None:
    """Every `upload:` a variant names is an upload kept in the database, within Telegram's
    upload limit for its kind."""
    for index, variant in enumerate(spec.variants):
        sources: list[tuple[tuple[str | int, ...], models.ContentKind, str]] = []
        if variant.media:
            sources.append((("media",), variant.kind, variant.media))
        sources += [
            (("album", n, "media"), item.kind, item.media) for n, item in enumerate(variant.album)
        ]
        for location, kind, source in sources:
            if models.MediaOrigin.of(source) is not models.MediaOrigin.UPLOAD:
                continue
            try:
                await _check_upload(connection, kind, source)
            except errors.ContentError as exc:
                if parsed is not None:
                    raise parsed.error(("variants", index, *location), str(exc)) from None
                raise


async def _check_upload(connection: Connection, kind: models.ContentKind, source: str) -> None:
    digest = media.upload_digest(source)
    size = (await media_rows.upload_sizes(connection, [digest])).get(digest)
    if size is None:
        raise errors.ContentError(f"no upload {source} (POST /api/v1/media first)")
    if size > media.upload_limit(kind):
        raise errors.ContentError(
            f"upload {source} has {size:,} bytes; Telegram takes at most "
            f"{media.upload_limit(kind):,} for a {kind}"
        )


async def design(pool: Pool, name: str) -> CampaignSpec:
    """A campaign as its file says it: what `campaign show` prints."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        return (await campaign_rows.design(connection, campaign.id)).spec


async def list_all(pool: Pool) -> list[tuple[models.Campaign, int | None, str | None]]:
    """Every campaign with its latest run's number and status."""
    async with pool.acquire() as connection:
        return await campaign_rows.list_all(connection)


async def edit(pool: Pool, name: str, variant: str, changes: dict[str, object]) -> str:
    """Change fields of one variant of a draft campaign; "updated" or "unchanged"."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        if campaign.status is not models.CampaignStatus.DRAFT:
            raise errors.BulletinError(
                f"campaign {name!r} is {campaign.status}; only drafts are edited in "
                "place (change its file and `bulletin campaign apply` it)"
            )
        spec = (await campaign_rows.design(connection, campaign.id)).spec
    lines = document.Lines(f"campaign {name}", None, "")
    _, outcome = await apply(pool, document.Document(_edited(spec, variant, changes), lines))
    return outcome


def _edited(spec: CampaignSpec, name: str, changes: dict[str, object]) -> CampaignSpec:
    names = [variant.name for variant in spec.variants]
    if name not in names:
        raise errors.NotFound(
            f"campaign {spec.name!r} has no variant {name!r} ({', '.join(names)})"
        )
    try:
        variants = [
            variant.model_validate({**variant.model_dump(), **changes})
            if variant.name == name
            else variant
            for variant in spec.variants
        ]
        return CampaignSpec.model_validate({**spec.model_dump(), "variants": variants})
    except ValueError as exc:
        raise errors.InputError(str(exc).splitlines()[-1].strip()) from None


async def pause(pool: Pool, name: str) -> int:
    """Pause a campaign's runs and schedule; how many runs stopped sending."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        return await campaign_rows.pause(connection, campaign, "paused by the operator")


async def resume(pool: Pool, name: str) -> int:
    """Resume a paused campaign; how many runs send again."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        return await run_rows.resume(connection, campaign)


async def cancel(pool: Pool, name: str) -> tuple[int, int]:
    """End a campaign for good: (runs ended, pending deliveries skipped)."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        return await campaign_rows.cancel(connection, campaign)


async def delete(pool: Pool, name: str) -> tuple[int, int]:
    """Delete a finished or draft campaign: (runs, deliveries) deleted with it."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        return await campaign_rows.delete(connection, campaign)
