"""Per-delivery reports of a run, streamed through a server-side cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from bulletin.db.connection import Connection
from bulletin.db.queries import sql

REPORT_PREFETCH = 2000  # rows per round trip: memory stays flat whatever the run's size


async def deliveries(
    connection: Connection, run_id: int, outcome: str | None
) -> AsyncIterator[dict[str, Any]]:
    """Every delivery of a run (or those with this outcome); must run in a transaction."""
    cursor = connection.cursor(sql("delivery_report"), run_id, outcome, prefetch=REPORT_PREFETCH)
    async for row in cursor:
        yield dict(row)
