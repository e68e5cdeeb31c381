"""The variants table: what each variant of a campaign sends, matched by name."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from bulletin import errors, models
from bulletin.content.spec import Variant
from bulletin.db.connection import Connection
from bulletin.db.queries import sql


def to_template(row: asyncpg.Record) -> models.Template:
    """A variant ready to render, from a row with the variant and campaign columns."""
    return models.Template(
        variant_id=row["variant_id"],
        campaign_name=row["campaign_name"],
        campaign_fields=row["campaign_fields"],
        text=row["text"],
        parse_mode=models.ParseMode(row["parse_mode"]),
        content=row["content"],
    )


def to_variant(row: asyncpg.Record) -> Variant:
    return Variant.model_validate(
        {
            **json.loads(row["content"]),
            "name": row["name"],
            "weight": row["weight"],
            "language": row["language"],
            "text": row["text"],
            "parse_mode": row["parse_mode"],
        }
    )


async def of_campaign(connection: Connection, campaign_id: int) -> list[Variant]:
    rows = await connection.fetch(sql("campaign_variants"), campaign_id)
    return [to_variant(row) for row in rows]


async def replace(connection: Connection, campaign_id: int, variants: Sequence[Variant]) -> None:
    """Make the campaign's variants these, by name; a variant some run used cannot go."""
    names = [variant.name for variant in variants]
    used = [
        row["name"]
        for row in await connection.fetch(sql("used_variants_except"), campaign_id, names)
    ]
    if used:
        raise errors.InputError(
            f"variant {', '.join(used)} was sent in a run and cannot be removed; keep it"
        )
    await connection.execute(sql("delete_variants_except"), campaign_id, names)
    for variant in variants:
        await connection.execute(
            sql("upsert_variant"),
            campaign_id,
            variant.name,
            variant.weight,
            variant.language,
            variant.text,
            variant.parse_mode.value,
            json.dumps(variant.stored()),
        )
