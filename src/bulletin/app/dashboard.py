"""What the dashboard's pages read: the overview, a campaign's runs, a run's page, its CSV.

Every figure a page shows that `campaign status` also shows comes from the same counts
(runs.outcome), so the two cannot disagree. The dashboard's own are the pace now (sends of
the last few seconds, not the run's average), the ETA it implies, bot health and a run's
sends over time.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bulletin import errors, models
from bulletin.app import campaigns as campaign_cases
from bulletin.app import reports, runs, stats
from bulletin.audience.writer import Format
from bulletin.db import api_reads
from bulletin.db import campaigns as campaign_rows
from bulletin.db import dashboard as dashboard_rows
from bulletin.db import reports as report_rows
from bulletin.db import runs as run_rows
from bulletin.db.connection import Connection
from bulletin.db.pool import Pool

PACE_WINDOW_S = 10.0  # "msgs/s now": long enough to smooth a batch, short enough to follow
FINISHED_SHOWN_S = 24 * 3600.0  # the overview keeps a finished run this long
RUNS_SHOWN = 20
ERRORS_SHOWN = 20
REPORT_PAGE = 50
CHART_POINTS = 360  # at most this many buckets: a chart a phone draws at once
BUCKET_WIDTHS_S = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 86400)
CSV_CHUNK_ROWS = 2000
UNFINISHED = frozenset({models.RunStatus.RUNNING, models.RunStatus.PAUSED})


@dataclass(frozen=True, slots=True)
class LiveRun:
    """A run as the overview and its page show it: `campaign status` figures and the pace now."""

    run: models.Run
    figures: dict[str, Any]  # runs.outcome: what `campaign status --json` says
    now_per_s: float

    @property
    def settled(self) -> int:
        return int(self.run.audience - self.figures["pending"])

    @property
    def percent(self) -> float:
        return 100.0 * self.settled / self.run.audience if self.run.audience else 100.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace now; None when it is not sending."""
        if self.run.status is not models.RunStatus.RUNNING or self.now_per_s <= 0:
            return None
        pending: int = self.figures["pending"]
        return pending / self.now_per_s


@dataclass(frozen=True, slots=True)
class BotHealth:
    """One bot: is it sending, how fast against its limit, is Telegram slowing it, who holds it."""

    id: int
    name: str
    username: str
    status: str  # active, disabled, revoked, or "paused by 429"
    limit_per_s: float
    now_per_s: float
    rate_limited_1h: int
    rate_limited_until: datetime | None
    worker_id: str | None


@dataclass(frozen=True, slots=True)
class Overview:
    runs: list[LiveRun]
    today: dict[str, int]
    bots: list[BotHealth]
    at: datetime


@dataclass(frozen=True, slots=True)
class Throughput:
    """Sends per second in buckets of `bucket_s` seconds, from a run's first send to its last."""

    bucket_s: int
    points: list[tuple[int, float]] = field(default_factory=list)  # (Unix seconds, msgs/s)

    @property
    def peak_per_s(self) -> float:
        return max((per_s for _, per_s in self.points), default=0.0)

    def as_json(self) -> dict[str, Any]:
        return {
            "bucket_s": self.bucket_s,
            "t": [t for t, _ in self.points],
            "per_s": [v for _, v in self.points],
        }


@dataclass(frozen=True, slots=True)
class ReportPage:
    outcome: reports.Outcome | None
    rows: list[dict[str, Any]]
    next_after: int | None


@dataclass(frozen=True, slots=True)
class RunPage:
    campaign: models.Campaign
    live: LiveRun
    errors: list[dict[str, Any]]
    variants: list[dict[str, Any]]
    throughput: Throughput
    report: ReportPage


async def overview(pool: Pool) -> Overview:
    """The front page: runs in progress (and finished lately), today's totals, every bot."""
    async with pool.acquire() as connection:
        shown = await dashboard_rows.shown_runs(connection, FINISHED_SHOWN_S, RUNS_SHOWN)
        live, recent = await _live(connection, shown)
        health = await dashboard_rows.bot_health(connection)
    today = (await stats.daily(pool, days=1)).totals
    return Overview(live, today, health_of(health, recent), datetime.now(UTC))


async def _live(
    connection: Connection, shown: Sequence[models.Run]
) -> tuple[list[LiveRun], list[dict[str, Any]]]:
    """The runs with their figures, and the sends of the last moments per run and bot."""
    recent = await dashboard_rows.recent_sends(
        connection, [run.id for run in shown if run.status in UNFINISHED], PACE_WINDOW_S
    )
    per_run: defaultdict[int, int] = defaultdict(int)
    for row in recent:
        per_run[row["run_id"]] += row["sent"]
    found = []
    for run in shown:
        # A pruned run's deliveries (and so its counters) are gone: its figures were kept.
        if run.pruned_at is not None:
            counts = (await run_rows.tallies(connection, run)).counts
        else:
            counts = await run_rows.counts(connection, run.id)
        found.append(LiveRun(run, runs.outcome(run, counts), per_run[run.id] / PACE_WINDOW_S))
    return found, recent


def health_of(health: list[dict[str, Any]], recent: list[dict[str, Any]]) -> list[BotHealth]:
    """Each bot of `health` (dashboard_bot_health rows) with its pace from `recent` sends."""
    per_bot: defaultdict[int, int] = defaultdict(int)
    for row in recent:
        per_bot[row["bot_id"]] += row["sent"]
    now = datetime.now(UTC)
    found = []
    for row in health:
        until = row["rate_limited_until"]
        waiting = until is not None and until > now and row["status"] == "active"
        found.append(
            BotHealth(
                id=row["id"],
                name=row["name"],
                username=row["username"],
                status="paused by 429" if waiting else row["status"],
                limit_per_s=row["rate_per_s"],
                now_per_s=per_bot[row["id"]] / PACE_WINDOW_S,
                rate_limited_1h=row["rate_limited_1h"],
                rate_limited_until=until if waiting else None,
                worker_id=row["worker_id"],
            )
        )
    return found


async def campaigns(pool: Pool) -> list[tuple[models.Campaign, int | None, str | None]]:
    """Every campaign with its latest run's number and status."""
    async with pool.acquire() as connection:
        return await campaign_rows.list_all(connection)


async def campaign(pool: Pool, name: str) -> tuple[models.Campaign, list[run_rows.RunSummary]]:
    """A campaign and its runs, newest first."""
    async with pool.acquire() as connection:
        found = await campaign_rows.find(connection, name)
        summaries = await run_rows.of_campaign(connection, found)
    return found, summaries[::-1]


async def run_page(
    pool: Pool,
    name: str,
    number: int,
    *,
    outcome: reports.Outcome | None = None,
    after: int = 0,
) -> RunPage:
    """Everything a run's page shows, read on one connection."""
    async with pool.acquire() as connection:
        found = await campaign_rows.find(connection, name)
        run = await run_rows.by_number(connection, found, number)
        [live], _ = await _live(connection, [run])
        errors = await dashboard_rows.run_errors(connection, run.id, ERRORS_SHOWN)
        variants = await dashboard_rows.variant_results(connection, run.id)
        chart = await _throughput(connection, run)
        report = await _report_page(connection, run.id, outcome, after)
    return RunPage(found, live, errors, variants, chart, report)


async def run_live(pool: Pool, name: str, number: int) -> tuple[models.Campaign, LiveRun]:
    """The figures of a run that move while it sends (its page's live part), and its campaign,
    whose status says which actions apply."""
    async with pool.acquire() as connection:
        found = await campaign_rows.find(connection, name)
        run = await run_rows.by_number(connection, found, number)
        [live], _ = await _live(connection, [run])
    return found, live


async def throughput(pool: Pool, name: str, number: int) -> Throughput:
    """A run's sends over time: its chart's data."""
    async with pool.acquire() as connection:
        found = await campaign_rows.find(connection, name)
        return await _throughput(connection, await run_rows.by_number(connection, found, number))


def bucket_width_s(run: models.Run, now: datetime) -> int:
    """The narrowest bucket that keeps the chart within CHART_POINTS: 1 s for a short run."""
    seconds = ((run.finished_at or now) - run.started_at).total_seconds()
    return next((w for w in BUCKET_WIDTHS_S if seconds / w <= CHART_POINTS), BUCKET_WIDTHS_S[-1])


def fill(buckets: list[tuple[int, int]], bucket_s: int) -> list[tuple[int, float]]:
    """Every bucket from the first send to the last, those without a send at 0, in msgs/s."""
    if not buckets:
        return []
    sent = dict(buckets)
    first, last = buckets[0][0], buckets[-1][0]
    return [(t, sent.get(t, 0) / bucket_s) for t in range(first, last + bucket_s, bucket_s)]


async def _throughput(connection: Connection, run: models.Run) -> Throughput:
    width = bucket_width_s(run, datetime.now(UTC))
    return Throughput(
        width, fill(await dashboard_rows.throughput(connection, run.id, width), width)
    )


async def _report_page(
    connection: Connection, run_id: int, outcome: reports.Outcome | None, after: int
) -> ReportPage:
    selected = outcome.value if outcome is not None else None
    rows = await api_reads.delivery_page(connection, run_id, selected, after, REPORT_PAGE + 1)
    page = rows[:REPORT_PAGE]
    return ReportPage(outcome, page, page[-1]["id"] if len(rows) > REPORT_PAGE else None)


async def report_csv(
    pool: Pool, name: str, number: int, outcome: reports.Outcome | None
) -> tuple[models.Run, AsyncIterator[str]]:
    """`campaign report`'s CSV of a run, in chunks; NotFound before the first chunk."""
    async with pool.acquire() as connection:
        found = await campaign_rows.find(connection, name)
        run = await run_rows.by_number(connection, found, number)
    return run, _csv_chunks(pool, run.id, outcome)


async def _csv_chunks(
    pool: Pool, run_id: int, outcome: reports.Outcome | None
) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = reports.ReportWriter(buffer, Format.CSV)
    selected = outcome.value if outcome is not None else None
    # As `campaign report`: one consistent picture of the run, through a cursor.
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        async for row in report_rows.deliveries(connection, run_id, selected):
            writer.write(row)
            if writer.written % CSV_CHUNK_ROWS == 0:
                yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


ACTIONS = ("start", "pause", "resume", "cancel")


async def act(pool: Pool, name: str, action: str) -> str:
    """Start, pause, resume or cancel a campaign, as its CLI command does; what happened."""
    match action:
        case "start":
            started = await runs.start(pool, name)
            if isinstance(started, datetime):
                return f"{name}: first run at {started.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            return started.summary
        case "pause":
            return (
                f"paused {name} ({await campaign_cases.pause(pool, name)} run(s) stopped sending)"
            )
        case "resume":
            return (
                f"resumed {name} ({await campaign_cases.resume(pool, name)} run(s) sending again)"
            )
        case "cancel":
            ended, skipped = await campaign_cases.cancel(pool, name)
            return f"cancelled {name}: {ended} run(s) ended, {skipped:,} pending deliveries skipped"
    raise errors.InputError(f"no action {action!r} (one of {', '.join(ACTIONS)})")
