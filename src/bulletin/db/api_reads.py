"""Reads of the HTTP API: a page of a run's deliveries, and what /metrics reports."""

from __future__ import annotations

from typing import Any

from bulletin.db.connection import Connection
from bulletin.db.queries import sql


async def delivery_page(
    connection: Connection, run_id: int, outcome: str | None, after: int, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` deliveries of a run with ids above `after`, in id order."""
    rows = await connection.fetch(sql("delivery_page"), run_id, outcome, after, limit)
    return [dict(row) for row in rows]


async def metrics(connection: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every figure /metrics reads from the database, in one consistent snapshot."""
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        queries = {
            "deliveries_by_bot": sql("metrics_deliveries_by_bot"),
            "deliveries_by_campaign": sql("metrics_deliveries_by_campaign"),
            "pending_by_bot": sql("metrics_pending_by_bot"),
            "leases_by_worker": sql("metrics_leases_by_worker"),
        }
        return {
            name: [dict(row) for row in await connection.fetch(query)]
            for name, query in queries.items()
        }
