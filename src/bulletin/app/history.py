"""Keeping history from slowing anything: `db prune` of old runs, `db reset` of a dev database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bulletin import config, errors
from bulletin.app.database import database
from bulletin.db import history
from bulletin.db.pool import Pool, describe_url, resolve_url


def parse_moment(text: str, option: str) -> datetime:
    """An ISO 8601 date or date-time; a date is its midnight UTC, a time without offset UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise errors.InputError(
            f"{option}: {text!r} is not an ISO 8601 date (e.g. 2026-01-31 or "
            "2026-01-31T12:00:00+00:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PrunedRun:
    label: str
    deliveries: int
    events: int


@dataclass(slots=True)
class Prune:
    """What a prune did (or, dry, would do)."""

    finished_before: datetime
    dry_run: bool
    runs: list[PrunedRun] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)  # cancelled runs still settling
    reached: int = 0  # chats newly remembered as reached by their campaign

    @property
    def deliveries(self) -> int:
        return sum(run.deliveries for run in self.runs)

    @property
    def events(self) -> int:
        return sum(run.events for run in self.runs)


async def prune(
    pool: Pool,
    finished_before: datetime,
    *,
    dry_run: bool = False,
    batch: int = history.BATCH,
    progress: Callable[[PrunedRun], None] | None = None,
) -> Prune:
    """Delete the deliveries and delivery events of runs finished before then, run by run,
    in batches; each run's tallies and reached chats are kept first. Dry: count only."""
    done = Prune(finished_before, dry_run)
    async with pool.acquire() as connection:
        for candidate in await history.candidates(connection, finished_before):
            if candidate.unsettled:
                done.unsettled.append(candidate.label)
                continue
            if dry_run:
                done.runs.append(PrunedRun(candidate.label, candidate.deliveries, candidate.events))
                continue
            pruned = await history.prune_run(connection, candidate, batch)
            if pruned is None:
                done.unsettled.append(candidate.label)
                continue
            item = PrunedRun(candidate.label, pruned.deliveries, pruned.events)
            done.runs.append(item)
            done.reached += pruned.reached
            if progress is not None:
                progress(item)
    return done


@dataclass(frozen=True, slots=True)
class Reset:
    where: str
    applied: tuple[str, ...]


async def reset(settings: config.Settings, *, force: bool = False) -> Reset:
    """Drop bulletin's schema and apply every migration again; refuses while a serve holds
    bot leases, unless forced."""
    url = await resolve_url(settings)
    async with (
        database(settings, check_schema=False, max_size=1) as pool,
        pool.acquire() as connection,
    ):
        leases = await history.live_leases(connection)
        if leases and not force:
            raise errors.NotAllowed(
                f"a running serve holds {leases} bot lease(s): stop it first, "
                "or pass --force to reset anyway"
            )
        applied = await history.reset(connection)
    return Reset(describe_url(url), tuple(f"{m.version:04d}_{m.name}" for m in applied))
