"""The runs table, and the audience snapshot that starts a run."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from bulletin import errors, models
from bulletin.campaign import lifecycle
from bulletin.campaign.lifecycle import Action
from bulletin.campaign.spec import CampaignSpec
from bulletin.db import campaigns as campaign_rows
from bulletin.db.connection import Connection
from bulletin.db.queries import sql


def to_run(row: asyncpg.Record) -> models.Run:
    return models.Run(
        id=row["id"],
        campaign_id=row["campaign_id"],
        campaign_name=row["campaign_name"],
        status=models.RunStatus(row["status"]),
        audience=row["audience"],
        paused_reason=row["paused_reason"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        scheduled_for=row["scheduled_for"],
        number=row["number"],
        pruned_at=row["pruned_at"],
    )


class _NothingNew(Exception):
    """Rolls back a run that would have reached no chat."""


async def start(
    connection: Connection,
    campaign: models.Campaign,
    *,
    scheduled_for: datetime | None = None,
    again: bool = False,
) -> models.Run:
    """Create a run and snapshot its segment into deliveries, atomically.

    Starts of one campaign are serialised by a lock on its row: a campaign with an
    unfinished run refuses (RunUnfinished), and PostgreSQL's runs_one_unfinished index
    backs that up. A one-shot campaign's run leaves out the chats it already reached;
    a run by hand that would reach nobody is not created (NothingToSend). A run of a
    schedule slot (`scheduled_for`) exists at most once.
    """
    lifecycle.transition(campaign.name, campaign.status, Action.START, campaign.paused_reason)
    spec = (await campaign_rows.design(connection, campaign.id)).spec
    bot_ids = await campaign_rows.segment_bot_ids(connection, spec)
    only_new = lifecycle.reaches_only_new_chats(spec.schedule, again=again)
    try:
        async with connection.transaction():
            status = models.CampaignStatus(
                await connection.fetchval(sql("lock_campaign"), campaign.id)
            )
            lifecycle.transition(campaign.name, status, Action.START, campaign.paused_reason)
            await _refuse_if_unfinished(connection, campaign)
            run_id, audience = await _snapshot(
                connection, campaign.id, spec, bot_ids, scheduled_for, only_new
            )
            if audience == 0 and only_new and scheduled_for is None:
                raise _NothingNew
            if status is not models.CampaignStatus.ACTIVE:
                await connection.execute(
                    sql("set_campaign_status"),
                    campaign.id,
                    models.CampaignStatus.ACTIVE.value,
                    None,
                )
            if audience == 0:
                await connection.execute(sql("finish_runs"), [run_id])
    except _NothingNew:
        raise await _nothing_to_send(connection, campaign, spec) from None
    return await get(connection, run_id)


async def _refuse_if_unfinished(connection: Connection, campaign: models.Campaign) -> None:
    run = await unfinished(connection, campaign)
    if run is not None:
        raise lifecycle.unfinished_error(run)


async def _snapshot(
    connection: Connection,
    campaign_id: int,
    spec: CampaignSpec,
    bot_ids: list[int],
    scheduled_for: datetime | None,
    only_new: bool,
) -> tuple[int, int]:
    """Insert the run and its deliveries; (run id, audience)."""
    spacing_s = 3600 / spec.caps.per_hour_per_bot if spec.caps.per_hour_per_bot else 0.0
    try:
        run_id = await connection.fetchval(sql("insert_scheduled_run"), campaign_id, scheduled_for)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "runs_one_unfinished":
            raise  # a schedule slot started twice: the caller's concern
        raise errors.RunUnfinished(f"campaign {spec.name!r} has an unfinished run") from None
    status = await connection.execute(
        sql("snapshot_segment"),
        run_id,
        campaign_id,
        bot_ids,
        *campaign_rows.segment_filters(spec.segment),
        spec.caps.per_run,
        spacing_s,
        only_new,
    )
    audience = int(status.split()[-1])
    await connection.execute(sql("set_run_audience"), run_id, audience)
    return run_id, audience


async def _nothing_to_send(
    connection: Connection, campaign: models.Campaign, spec: CampaignSpec
) -> errors.NothingToSend:
    reached = await connection.fetchval(sql("reached_chats"), campaign.id)
    if not reached:
        return errors.NothingToSend(
            f"nothing to send: no subscribed chat is in the segment of {campaign.name!r}"
        )
    return errors.NothingToSend(
        f"nothing to send: every chat in the segment of {campaign.name!r} has had it "
        f"({reached} chats reached so far); `--again` sends it to all of them again"
    )


async def unfinished(connection: Connection, campaign: models.Campaign) -> models.Run | None:
    """The campaign's one running or paused run, if it has one."""
    row = await connection.fetchrow(sql("unfinished_run"), campaign.id)
    return to_run(row) if row is not None else None


async def chosen(
    connection: Connection, campaign: models.Campaign, number: int | None
) -> models.Run:
    """The campaign's run numbered `number`, or its latest run when no number is given."""
    if number is None:
        return await latest(connection, campaign)
    return await by_number(connection, campaign, number)


async def by_number(connection: Connection, campaign: models.Campaign, number: int) -> models.Run:
    row = await connection.fetchrow(sql("run_by_number"), campaign.id, number)
    if row is None:
        raise errors.NotFound(f"campaign {campaign.name!r} has no run {number}")
    return to_run(row)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run with its outcome counts, as `campaign runs` lists it."""

    run: models.Run
    sent: int
    failed: int
    uncertain: int
    pending: int


async def of_campaign(connection: Connection, campaign: models.Campaign) -> list[RunSummary]:
    rows = await connection.fetch(sql("campaign_runs"), campaign.id)
    return [
        RunSummary(to_run(row), row["sent"], row["failed"], row["uncertain"], row["pending"])
        for row in rows
    ]


async def variant_counts(connection: Connection, run_id: int) -> list[dict[str, Any]]:
    """Deliveries of a run per variant: the results of an A/B test."""
    return [dict(row) for row in await connection.fetch(sql("variant_counts"), run_id)]


async def get(connection: Connection, run_id: int) -> models.Run:
    row = await connection.fetchrow(sql("get_run"), run_id)
    if row is None:
        raise errors.NotFound(f"no run with id {run_id}")
    return to_run(row)


async def latest(connection: Connection, campaign: models.Campaign) -> models.Run:
    row = await connection.fetchrow(sql("latest_run"), campaign.id)
    if row is None:
        raise errors.NotFound(
            f"campaign {campaign.name!r} has no run yet (`bulletin campaign start`)"
        )
    return to_run(row)


async def counts(connection: Connection, run_id: int) -> models.RunCounts:
    row = await connection.fetchrow(sql("run_counts"), run_id)
    assert row is not None
    return models.RunCounts(run_id=run_id, **dict(row))


@dataclass(frozen=True, slots=True)
class Tallies:
    """What `campaign status` shows of a run's deliveries."""

    counts: models.RunCounts
    failures: list[tuple[str, str | None, int]]  # (reason, last error, deliveries)
    variants: list[dict[str, Any]]


async def tallies(connection: Connection, run: models.Run) -> Tallies:
    """A run's tallies: counted, or for a done run, as kept when they were first counted
    (a pruned run's, done or cancelled, were kept before its deliveries were deleted)."""
    if run.status is not models.RunStatus.DONE and run.pruned_at is None:
        return await _counted(connection, run.id)
    kept = await connection.fetchval(sql("kept_run_tallies"), run.id)
    if kept is not None:
        return _from_json(run.id, json.loads(kept))
    counted = await _counted(connection, run.id)
    if run.pruned_at is None and counted.counts.pending == counted.counts.sending == 0:
        await connection.execute(sql("keep_run_tallies"), run.id, _as_json(counted))
    return counted


async def counted(connection: Connection, run_id: int) -> Tallies:
    """A run's tallies counted from its deliveries and events now."""
    return await _counted(connection, run_id)


def tallies_json(found: Tallies) -> str:
    """Tallies as finished_run_tallies keeps them."""
    return _as_json(found)


async def _counted(connection: Connection, run_id: int) -> Tallies:
    return Tallies(
        await counts(connection, run_id),
        await failures(connection, run_id),
        await variant_counts(connection, run_id),
    )


_MOMENTS = ("first_sent_at", "last_sent_at")


def _as_json(found: Tallies) -> str:
    counts = dataclasses.asdict(found.counts)
    for key in _MOMENTS:
        counts[key] = counts[key] and counts[key].isoformat()
    return json.dumps({"counts": counts, "failures": found.failures, "variants": found.variants})


def _from_json(run_id: int, kept: dict[str, Any]) -> Tallies:
    counts = kept["counts"]
    for key in _MOMENTS:
        counts[key] = counts[key] and datetime.fromisoformat(counts[key])
    return Tallies(
        models.RunCounts(**{**counts, "run_id": run_id}),
        [(failure, error, number) for failure, error, number in kept["failures"]],
        kept["variants"],
    )


async def failures(
    connection: Connection, run_id: int, limit: int = 10
) -> list[tuple[str, str | None, int]]:
    """The most common reasons deliveries of a run did not end sent."""
    rows = await connection.fetch(sql("run_failures"), run_id, limit)
    return [(row["failure"], row["error"], row["deliveries"]) for row in rows]


@dataclass(frozen=True, slots=True)
class RunChange:
    """A run whose status changed since it was last logged."""

    run: models.Run
    previous: str | None  # the status logged before; None for a new run
    bot_id: int  # its campaign's bot


@dataclass(frozen=True, slots=True)
class RunEvent:
    """A step of a run's lifecycle, for the activity: run.started, run.finished, …"""

    kind: str
    bot_id: int
    run_id: int
    at: datetime | None  # None: now
    detail: str | None


async def claim_changes(connection: Connection) -> list[RunChange]:
    """Runs whose status changed since it was last logged; each change handed to one caller."""
    rows = await connection.fetch(sql("claim_run_changes"))
    return [RunChange(to_run(row), row["previous"], row["campaign_bot_id"]) for row in rows]


async def add_events(connection: Connection, events: list[RunEvent]) -> None:
    """Record steps of runs' lifecycles as events, in the caller's transaction."""
    if events:
        await connection.execute(
            sql("insert_run_events"),
            [e.kind for e in events],
            [e.bot_id for e in events],
            [e.run_id for e in events],
            [e.at for e in events],
            [e.detail for e in events],
        )


async def active(connection: Connection) -> list[models.Run]:
    return [to_run(row) for row in await connection.fetch(sql("active_runs"))]


async def resume(connection: Connection, campaign: models.Campaign) -> int:
    """Resume a paused campaign and its paused runs; return how many runs resumed."""
    lifecycle.transition(campaign.name, campaign.status, Action.RESUME)
    resumed: int = await connection.fetchval(sql("resume_runs"), campaign.id)
    return resumed
