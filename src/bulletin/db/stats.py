"""Daily rollups: added to by the writes that settle deliveries and change subscribers.

Every function that adds runs inside its caller's transaction, as its last statement, so
a rollup moves exactly when the rows it counts commit, and a batch written twice (its
commit's answer lost) adds only what the second write finalised: nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from bulletin.db.connection import Connection
from bulletin.db.queries import sql

# The columns a settled delivery row must carry to be counted.
DELIVERY_COLUMNS = ("id", "bot_id", "run_id", "variant_id", "status", "failure")
_SETTLED = frozenset({"sent", "failed", "skipped", "uncertain"})


async def add_deliveries(
    connection: Connection,
    rows: Iterable[Mapping[str, Any]],
    rate_limited: Collection[int] = (),
) -> None:
    """Count delivery rows just written (status after the write); `rate_limited`: ids of 429s."""
    counted = [row for row in rows if row["status"] in _SETTLED or row["id"] in rate_limited]
    if not counted:
        return
    await connection.execute(
        sql("add_delivery_stats"),
        [row["bot_id"] for row in counted],
        [row["run_id"] for row in counted],
        [row["variant_id"] for row in counted],
        [row["status"] for row in counted],
        [row["failure"] for row in counted],
        [row["id"] in rate_limited for row in counted],
    )


async def add_subscribers(
    connection: Connection, bot_id: int, *, subscribed: int = 0, opted_out: int = 0
) -> None:
    """Count chats that became subscribers, or opted out, in this transaction."""
    if subscribed or opted_out:
        await connection.execute(sql("add_subscriber_stats"), bot_id, subscribed, opted_out)


async def by_bot(connection: Connection, bot_id: int | None, days: int) -> list[dict[str, Any]]:
    """The last `days` UTC days (today included) per bot, oldest first; days with nothing left out."""
    return [dict(row) for row in await connection.fetch(sql("daily_bot_stats"), bot_id, days)]


async def by_campaign(
    connection: Connection, campaign_id: int, days: int, bot_id: int | None = None
) -> list[dict[str, Any]]:
    """The last `days` UTC days of one campaign per variant (what one bot sent of it, given
    `bot_id`), oldest first."""
    rows = await connection.fetch(sql("daily_campaign_stats"), campaign_id, days, bot_id)
    return [dict(row) for row in rows]
