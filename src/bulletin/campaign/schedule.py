"""When a campaign's runs start, and when its quiet hours hold them back: pure functions of `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cronsim

from bulletin.campaign.spec import Schedule


def first_slot(schedule: Schedule, now: datetime) -> datetime | None:
    """The first run's time once a campaign is started; None when it has no schedule."""
    match schedule.rule:
        case "at":
            assert schedule.at is not None
            return _aware(schedule.at, schedule)
        case "every":
            return _aware(schedule.starting, schedule) if schedule.starting else now
        case "cron":
            start = _aware(schedule.starting, schedule) if schedule.starting else now
            return _cron_after(schedule, max(start, now) - timedelta(microseconds=1))
        case _:
            return None


def next_slot(
    schedule: Schedule, fired: datetime, now: datetime, runs_started: int
) -> datetime | None:
    """The slot after the one that just fired, skipping slots missed while nothing ran.

    A scheduler that was down for hours starts one run for the missed time, then goes on
    with the next slot after `now`, not with one run per missed slot.
    """
    if schedule.max_runs is not None and runs_started >= schedule.max_runs:
        return None
    match schedule.rule:
        case "every":
            interval = timedelta(seconds=schedule.interval_s)
            missed = max(0, (now - fired) // interval)
            slot = fired + (missed + 1) * interval
        case "cron":
            slot = _cron_after(schedule, max(fired, now))
        case _:
            return None
    until = _aware(schedule.until, schedule) if schedule.until else None
    return None if until is not None and slot > until else slot


def quiet_until(schedule: Schedule, now: datetime) -> datetime | None:
    """When the quiet hours that hold at `now` end; None when sending is allowed."""
    quiet = schedule.quiet_hours
    if quiet is None or quiet.start == quiet.end:
        return None
    local = now.astimezone(schedule.zone)
    clock = local.time().replace(tzinfo=None)
    overnight = quiet.start > quiet.end
    inside = (
        (clock >= quiet.start or clock < quiet.end)
        if overnight
        else quiet.start <= clock < quiet.end
    )
    if not inside:
        return None
    end_day = local.date() + timedelta(days=1 if overnight and clock >= quiet.start else 0)
    end = datetime.combine(end_day, quiet.end, tzinfo=schedule.zone)
    return end.astimezone(UTC)


def _cron_after(schedule: Schedule, moment: datetime) -> datetime:
    assert schedule.cron is not None
    local = moment.astimezone(schedule.zone)
    return next(cronsim.CronSim(schedule.cron, local)).astimezone(UTC)


def _aware(moment: datetime, schedule: Schedule) -> datetime:
    """A time written without an offset is local time in the schedule's timezone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=schedule.zone)
