"""Pure campaign rules: schedule slots, quiet hours, template escaping and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bulletin import errors, models
from bulletin.campaign import schedule
from bulletin.campaign.spec import Schedule
from bulletin.content import entities, render

T0 = datetime(2030, 3, 31, 0, 30, tzinfo=UTC)


def test_next_slot__every__skips_missed_slots_to_one_after_now() -> None:
    rules = Schedule(every="15m")
    assert schedule.next_slot(rules, T0, T0, 1) == T0 + timedelta(minutes=15)
    late = T0 + timedelta(hours=5, minutes=1)
    assert schedule.next_slot(rules, T0, late, 1) == T0 + timedelta(hours=5, minutes=15)


def test_next_slot__max_runs_and_until__none() -> None:
    assert schedule.next_slot(Schedule(every="1h", max_runs=2), T0, T0, 2) is None
    until = Schedule(every="1h", until=T0 + timedelta(minutes=30))
    assert schedule.next_slot(until, T0, T0, 1) is None


def test_next_slot__cron_in_timezone__across_daylight_saving() -> None:
    # 31 March 2030: Berlin moves from UTC+1 to UTC+2 at 01:00 UTC.
    rules = Schedule(cron="0 9 * * *", timezone="Europe/Berlin")
    first = schedule.first_slot(rules, T0)
    assert first == datetime(2030, 3, 31, 7, 0, tzinfo=UTC)
    assert first is not None
    assert schedule.next_slot(rules, first, first, 1) == datetime(2030, 4, 1, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("utc_hour", "quiet_until_hour"), [(19, None), (20, 6), (23, 6), (5, 6), (6, None)]
)
def test_quiet_until__overnight_window(utc_hour: int, quiet_until_hour: int | None) -> None:
    rules = Schedule.model_validate(
        {"timezone": "UTC", "quiet_hours": {"start": 1200, "end": "06:00"}}
    )  # 1200 is how YAML 1.1 reads an unquoted 20:00
    now = datetime(2030, 1, 1, utc_hour, tzinfo=UTC)
    until = schedule.quiet_until(rules, now)
    if quiet_until_hour is None:
        assert until is None
    else:
        assert until is not None
        assert until.hour == quiet_until_hour
        assert until > now


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ first_name.__class__ }}",
        "{{ fields['__class__'] }}",
        "{{ first_name | attr('__class__') }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% include 'other' %}",
        "{% import 'x' as y %}",
        "{{ 'a' * 1000000 }}",
        "{{ 9 ** 999999 }}",
    ],
)
def test_render__escape_attempts__content_error(source: str) -> None:
    values = {"first_name": "x", "fields": {}}
    with pytest.raises(errors.ContentError):
        render.render_text(source, "html", values)


@pytest.mark.parametrize("parse_mode", list(models.ParseMode))
@pytest.mark.parametrize(
    "value", ["<b>", "</i>", "*_*", "[x](y)", "`", "||", "&amp;", "\\", "a.b!c", ">q"]
)
def test_escape__any_value__shows_as_written(parse_mode: models.ParseMode, value: str) -> None:
    rendered = render.render_text("{{ v }}!", parse_mode.value, {"v": value})
    if parse_mode is models.ParseMode.MARKDOWN_V2:
        rendered = rendered[:-1] + "\\!"
    assert entities.visible_text(rendered, parse_mode) == value + "!"
