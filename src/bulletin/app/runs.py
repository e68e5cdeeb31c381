"""Starting and continuing runs: the pre-flight check first, then at most one unfinished run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bulletin import errors, models
from bulletin.app import preflight
from bulletin.campaign import lifecycle
from bulletin.campaign.spec import CampaignSpec
from bulletin.db import bots as bot_rows
from bulletin.db import campaigns as campaign_rows
from bulletin.db import runs as run_rows
from bulletin.db.connection import Connection
from bulletin.db.pool import Pool
from bulletin.db.pool import connection as pooled

QUIET_HOURS = "quiet hours"

RunSummary = run_rows.RunSummary


@dataclass(frozen=True, slots=True)
class Begun:
    """The run `bulletin run` delivers: a new one, or the campaign's unfinished one."""

    run: models.Run
    continued: bool = False  # the campaign's unfinished run, picked up
    only_new: bool = False  # a later run of a one-shot campaign: only chats it has not reached

    @property
    def summary(self) -> str:
        run = self.run
        if self.continued:
            return f"continuing {run.label} ({run.status.value}, {run.audience} chats in all)"
        if self.only_new and run.number > 1:
            return f"{run.label}: {run.audience} chats that have not had {run.campaign_name!r} yet"
        return f"started {run.label}: {run.audience} deliveries"


@dataclass(frozen=True, slots=True)
class Reach:
    """How far a campaign got: for the `--again` question."""

    segment: int  # chats in the segment now
    reached: int  # chats of the segment that already had the campaign


async def reach(pool: Pool, name: str) -> Reach:
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        spec = (await campaign_rows.design(connection, campaign.id)).spec
        everyone, _ = await preflight.sample(connection, spec, 1)
        new, _ = await preflight.sample(connection, spec, 1, campaign_id=campaign.id, only_new=True)
    return Reach(everyone, everyone - new)


async def start(pool: Pool, name: str, *, again: bool = False) -> Begun | datetime:
    """`campaign start`: check, then a run now, or the schedule armed; refuses an unfinished run."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        spec = (await campaign_rows.design(connection, campaign.id)).spec
        await _check(connection, spec, "not started")
        if spec.schedule.rule is not None:
            unfinished = await run_rows.unfinished(connection, campaign)
            if unfinished is not None:
                raise lifecycle.unfinished_error(unfinished)
            if campaign.next_run_at is not None and campaign.status is models.CampaignStatus.ACTIVE:
                # Arming again would move the schedule to a fresh first slot: an extra run.
                raise errors.NotAllowed(
                    f"campaign {name!r} is scheduled already: its next run is at "
                    f"{campaign.next_run_at.isoformat(timespec='seconds')}"
                )
            return await campaign_rows.arm(connection, campaign, datetime.now(UTC))
        return await _start_run(connection, campaign, spec, again)


async def run_or_continue(pool: Pool, name: str, *, again: bool = False) -> Begun:
    """`bulletin run`: the campaign's unfinished run if it has one, else a new run."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        spec = (await campaign_rows.design(connection, campaign.id)).spec
        unfinished = await run_rows.unfinished(connection, campaign)
        if unfinished is None:
            await _check(connection, spec, "not started")
            try:
                return await _start_run(connection, campaign, spec, again)
            except errors.RunUnfinished:
                # Another process started one a moment ago: deliver that one with it.
                unfinished = await run_rows.unfinished(connection, campaign)
                if unfinished is None:
                    raise
        if again:
            raise errors.RunUnfinished(
                f"{unfinished.label} is not finished; `--again` starts a new run only after it "
                f"(`bulletin run {name}` continues it, `bulletin campaign cancel {name}` ends it)"
            )
        return Begun(await _continue(connection, campaign, spec, unfinished), continued=True)


async def _start_run(
    connection: Connection, campaign: models.Campaign, spec: CampaignSpec, again: bool
) -> Begun:
    run = await run_rows.start(connection, campaign, again=again)
    return Begun(run, only_new=lifecycle.reaches_only_new_chats(spec.schedule, again=again))


async def _continue(
    connection: Connection, campaign: models.Campaign, spec: CampaignSpec, run: models.Run
) -> models.Run:
    """A paused run goes on once its content passes the check again; quiet hours are kept."""
    if run.status is not models.RunStatus.PAUSED:
        return run
    if run.paused_reason == QUIET_HOURS:
        raise errors.NotAllowed(
            f"{run.label} waits for its quiet hours to end; `bulletin serve` continues it then"
        )
    await _check(connection, spec, "not resumed")
    await run_rows.resume(connection, campaign)
    return await run_rows.get(connection, run.id)


async def _check(connection: Connection, spec: CampaignSpec, refusal: str) -> None:
    """Nothing is created for content that cannot be sent."""
    problems = await preflight.preflight(connection, spec)
    if problems:
        raise errors.ContentError(f"{refusal}, the check failed: {'; '.join(problems)}")


async def bots_of(pool: Pool, run: models.Run) -> list[int]:
    """The bots a run's deliveries go out through: its campaign's segment's bots."""
    async with pool.acquire() as connection:
        spec = (await campaign_rows.design(connection, run.campaign_id)).spec
        return await campaign_rows.segment_bot_ids(connection, spec)


async def progress(pool: Pool, run_id: int) -> tuple[models.Run, models.RunCounts] | None:
    """Where a run stands now; None while the database cannot be reached (a bar waits)."""
    try:
        async with pooled(pool) as connection:
            return await run_rows.get(connection, run_id), await run_rows.counts(connection, run_id)
    except errors.DatabaseUnavailable:
        return None


async def of_campaign(pool: Pool, name: str) -> list[run_rows.RunSummary]:
    """A campaign's runs, oldest first, with what each delivered."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        return await run_rows.of_campaign(connection, campaign)


@dataclass(frozen=True, slots=True)
class Status:
    """Where a run stands, as `campaign status` shows it."""

    run: models.Run
    counts: models.RunCounts
    failures: list[tuple[str, str | None, int]]  # (reason, last error, deliveries)
    variants: list[dict[str, Any]]
    bot: models.Bot


async def status(pool: Pool, name: str, number: int | None = None) -> Status:
    """The run numbered `number` of a campaign (default: its latest) and its counts."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        bot = await bot_rows.by_id(connection, campaign.bot_id)
        found = await run_rows.chosen(connection, campaign, number)
        tallies = await run_rows.tallies(connection, found)
    return Status(found, tallies.counts, tallies.failures, tallies.variants, bot)


def outcome(run: models.Run, counts: models.RunCounts) -> dict[str, Any]:
    """Where a run stands, as `campaign status --json` and the API say it."""
    elapsed_s = None
    if run.finished_at is not None:
        elapsed_s = round((run.finished_at - run.started_at).total_seconds(), 1)
    return {
        "run": run.number,
        "run_id": run.id,
        "campaign": run.campaign_name,
        "status": run.status.value,
        "paused_reason": run.paused_reason,
        "audience": run.audience,
        "sent": counts.sent,
        "failed": counts.failed,
        "blocked": counts.blocked,
        "gone": counts.gone,
        "skipped": counts.skipped,
        "uncertain": counts.uncertain,
        "pending": counts.pending + counts.sending,
        "retried": counts.retried,
        "rate_limited_429": counts.rate_limited,
        "msgs_per_s": round(counts.sent_per_s, 1),
        "elapsed_s": elapsed_s,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "pruned_at": run.pruned_at,
    }


def failure_rows(failures: list[tuple[str, str | None, int]]) -> list[dict[str, Any]]:
    """The commonest reasons deliveries did not end sent, as JSON reads them."""
    return [{"reason": reason, "error": error, "deliveries": n} for reason, error, n in failures]
