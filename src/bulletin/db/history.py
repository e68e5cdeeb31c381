"""Old history out of the way: pruning finished runs' deliveries, and a clean slate.

A pruned run keeps its row, its tallies (finished_run_tallies, stored before anything is
deleted) and, for its campaign, the chats it reached (campaign_reached). Its deliveries and
delivery events go in batches, each its own short transaction: a prune of millions never
holds a long lock, never builds one huge transaction, and resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from bulletin import errors
from bulletin.db import migrations
from bulletin.db import runs as run_rows
from bulletin.db.connection import Connection
from bulletin.db.queries import sql

BATCH = 10_000  # deliveries (or events) per transaction


@dataclass(frozen=True, slots=True)
class Candidate:
    """A finished run with history left to prune, and how much."""

    run_id: int
    campaign_id: int
    label: str
    deliveries: int
    events: int
    unsettled: int  # a cancelled run's sends still being answered: not pruned yet
    pruned_before: bool  # marked pruned by an earlier prune that did not finish


async def candidates(connection: Connection, finished_before: datetime) -> list[Candidate]:
    rows = await connection.fetch(sql("prune_candidates"), finished_before)
    return [
        Candidate(
            run_id=row["id"],
            campaign_id=row["campaign_id"],
            label=f"run {row['number']} of {row['campaign_name']}",
            deliveries=row["deliveries"],
            events=row["events"],
            unsettled=row["unsettled"],
            pruned_before=row["pruned_at"] is not None,
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one run's prune deleted and kept."""

    deliveries: int
    events: int
    reached: int  # chats newly kept in campaign_reached


async def prune_run(
    connection: Connection, candidate: Candidate, batch: int = BATCH
) -> Pruned | None:
    """Keep the run's tallies and mark it pruned, then delete its history batch by batch;
    None when the run is not final after all (a cancelled run still settling)."""
    async with connection.transaction():
        row = await connection.fetchrow(sql("lock_run_for_prune"), candidate.run_id)
        if row is None:
            return None
        if row["pruned_at"] is None:
            found = await run_rows.counted(connection, candidate.run_id)
            if found.counts.pending or found.counts.sending:
                return None
            await connection.execute(
                sql("keep_pruned_run_tallies"), candidate.run_id, run_rows.tallies_json(found)
            )
            await connection.execute(sql("mark_run_pruned"), candidate.run_id)
    deliveries = reached = 0
    while True:  # each statement its own transaction
        done = await connection.fetchrow(
            sql("prune_deliveries"), candidate.run_id, candidate.campaign_id, batch
        )
        assert done is not None
        deliveries += done["deleted"]
        reached += done["reached"]
        if done["deleted"] < batch:
            break
    events = 0
    while True:
        status = await connection.execute(sql("prune_events"), candidate.run_id, batch)
        deleted = int(status.split()[-1])
        events += deleted
        if deleted < batch:
            break
    return Pruned(deliveries, events, reached)


async def live_leases(connection: Connection) -> int:
    """Bots a running serve holds leases on now (0 without a schema)."""
    if await migrations.applied_versions(connection) is None:
        return 0
    leases: int = await connection.fetchval(sql("live_leases"))
    return leases


async def reset(connection: Connection, *, lock_timeout_s: float = 5) -> list[migrations.Migration]:
    """Drop every table, view, sequence and function of the current schema and apply the
    migrations again, all in one transaction: it happens entirely or not at all."""
    try:
        async with connection.transaction():
            await connection.execute(
                "SELECT set_config('lock_timeout', $1, true)", f"{int(lock_timeout_s * 1000)}ms"
            )
            await connection.execute(sql("drop_schema_objects"))
            return await migrations.apply(connection)
    except asyncpg.LockNotAvailableError:
        raise errors.DatabaseError(
            "database in use: another connection holds bulletin's tables "
            "(stop `bulletin serve` and other commands, then reset again)"
        ) from None
