"""What /metrics reports from the database: the same figures whichever process is scraped."""

from __future__ import annotations

from typing import Any

from bulletin.db import api_reads
from bulletin.db.pool import Pool


async def snapshot(pool: Pool) -> dict[str, list[dict[str, Any]]]:
    """Deliveries per bot and per campaign variant (from the daily rollups), pending
    deliveries per bot and live leases per worker, read in one consistent snapshot."""
    async with pool.acquire() as connection:
        return await api_reads.metrics(connection)
