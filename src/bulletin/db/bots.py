"""The bots table."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from bulletin import errors, models
from bulletin.db.connection import Connection
from bulletin.db.queries import sql


def to_bot(row: asyncpg.Record) -> models.Bot:
    return models.Bot(
        id=row["id"],
        name=row["name"],
        username=row["username"],
        token=row["token"],
        api_url=row["api_url"],
        rate_per_s=row["rate_per_s"],
        status=models.BotStatus(row["status"]),
        created_at=row["created_at"],
        paid_broadcast=row["paid_broadcast"],
        paid_rate_per_s=row["paid_rate_per_s"],
        proxies=tuple(row["proxies"]),
    )


async def insert(
    connection: Connection,
    *,
    bot_id: int,
    name: str,
    username: str,
    token: str,
    api_url: str,
    rate_per_s: float,
    paid_broadcast: bool = False,
    proxies: Sequence[str] = (),
) -> models.Bot:
    try:
        row = await connection.fetchrow(
            sql("insert_bot"),
            bot_id,
            name,
            username,
            token,
            api_url,
            rate_per_s,
            paid_broadcast,
            list(proxies),
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "bots_name_key":
            raise errors.AlreadyExists(f"a bot named {name!r} already exists") from None
        existing = await by_id(connection, bot_id)
        raise errors.AlreadyExists(
            f"bot @{username} is already registered as {existing.name!r}"
        ) from None
    assert row is not None
    return to_bot(row)


async def find(connection: Connection, reference: str) -> models.Bot:
    """A bot by name, @username or id; NotFound names what was asked for."""
    row = await connection.fetchrow(sql("find_bot"), reference)
    if row is None:
        raise errors.NotFound(f"no bot named {reference!r} (see `bulletin bot list`)")
    return to_bot(row)


async def by_id(connection: Connection, bot_id: int) -> models.Bot:
    row = await connection.fetchrow(sql("bot_by_id"), bot_id)
    if row is None:
        raise errors.NotFound(f"no bot with id {bot_id}")
    return to_bot(row)


async def list_with_counts(connection: Connection) -> list[tuple[models.Bot, int]]:
    rows = await connection.fetch(sql("list_bots"))
    return [(to_bot(row), row["subscribed"]) for row in rows]


async def remove(connection: Connection, bot: models.Bot) -> None:
    """Delete a bot and its audience; refused while campaigns still use it."""
    campaigns = [row["name"] for row in await connection.fetch(sql("bot_campaign_names"), bot.id)]
    if campaigns:
        raise errors.NotAllowed(
            f"bot {bot.name!r} is used by campaigns {', '.join(campaigns)}; remove them first"
        )
    await connection.execute(sql("delete_bot"), bot.id)


async def set_status(connection: Connection, bot_id: int, status: models.BotStatus) -> None:
    await connection.execute(sql("set_bot_status"), bot_id, status.value)


async def update_endpoint(
    connection: Connection, bot_id: int, *, token: str, api_url: str, rate_per_s: float
) -> models.Bot:
    """Point a registered bot at a new token or API server, and mark it active again."""
    row = await connection.fetchrow(sql("update_bot_endpoint"), bot_id, token, api_url, rate_per_s)
    if row is None:
        raise errors.NotFound(f"no bot with id {bot_id}")
    return to_bot(row)


async def set_pace(
    connection: Connection,
    bot_id: int,
    *,
    rate_per_s: float | None = None,
    paid_broadcast: bool | None = None,
    proxies: Sequence[str] | None = None,
) -> models.Bot:
    """Change a bot's rate, paid broadcast or proxies; running workers pick it up."""
    row = await connection.fetchrow(
        sql("set_bot_pace"),
        bot_id,
        rate_per_s,
        paid_broadcast,
        None if proxies is None else list(proxies),
    )
    if row is None:
        raise errors.NotFound(f"no bot with id {bot_id}")
    return to_bot(row)
