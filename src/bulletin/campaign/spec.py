"""A campaign as an operator designs it, in a file kept in version control."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, time
from typing import Any, Self

import cronsim
from pydantic import Field, field_serializer, field_validator, model_validator

from bulletin import models
from bulletin.content.spec import Strict, Variant

EVERY = re.compile(r"^(?P<count>[1-9]\d*)(?P<unit>[mh])$")
UNIT_S = {"m": 60, "h": 3600}
FieldValue = str | int | float | bool


class TagFilter(Strict):
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()


class Segment(Strict):
    """Who: subscribed chats of these bots (default: the campaign's bot) that match every filter."""

    bots: tuple[str, ...] = ()
    tags: TagFilter = TagFilter()
    languages: tuple[str, ...] = ()
    chat_types: tuple[models.ChatType, ...] = ()
    subscribed_after: datetime | None = None
    subscribed_before: datetime | None = None


class QuietHours(Strict):
    """No sends from `start` to `end`, local time in the schedule's timezone."""

    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _sexagesimal(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted 22:00 as the number 1320 (base 60).
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            return time(value // 60, value % 60)
        return value

    @field_serializer("start", "end")
    def _clock(self, value: time) -> str:
        return value.strftime("%H:%M")


class Schedule(Strict):
    """When: by hand (nothing set), once `at` a time, `every` N minutes or hours, or by `cron`."""

    at: datetime | None = None
    every: str | None = None
    cron: str | None = None
    starting: datetime | None = None
    max_runs: int | None = Field(default=None, ge=1)
    until: datetime | None = None
    timezone: str = "UTC"
    quiet_hours: QuietHours | None = None

    @field_validator("every")
    @classmethod
    def _every(cls, every: str | None) -> str | None:
        if every is not None and not EVERY.match(every):
            raise ValueError(f"every is a number of minutes or hours like 30m or 2h, not {every!r}")
        return every

    @field_validator("cron")
    @classmethod
    def _cron(cls, cron: str | None) -> str | None:
        if cron is not None:
            try:
                cronsim.CronSim(cron, datetime(2000, 1, 1))
            except cronsim.CronSimError as exc:
                raise ValueError(f"bad cron expression {cron!r}: {exc}") from None
        return cron

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {name!r} (an IANA name like Europe/Berlin)"
            ) from None
        return name

    @model_validator(mode="after")
    def _one_rule(self) -> Self:
        rules = [name for name in ("at", "every", "cron") if getattr(self, name) is not None]
        if len(rules) > 1:
            raise ValueError(f"give one of at, every or cron, not {' and '.join(rules)}")
        if self.at is not None and (self.max_runs or self.starting):
            raise ValueError("`at` starts one run; max_runs and starting need every or cron")
        return self

    @property
    def rule(self) -> str | None:
        return "at" if self.at else "every" if self.every else "cron" if self.cron else None

    @property
    def interval_s(self) -> int:
        match = EVERY.match(self.every or "")
        assert match is not None
        return int(match["count"]) * UNIT_S[match["unit"]]

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Caps(Strict):
    """How much: messages per hour per bot, and messages per run."""

    per_hour_per_bot: int | None = Field(default=None, ge=1)
    per_run: int | None = Field(default=None, ge=1)


class DeliveryOptions(Strict):
    """How: Telegram's paid broadcast (allow_paid_broadcast: up to 1000 msgs/s, each message
    billed in Stars to the bot), and whether deliveries a crashed worker left unknown are
    sent again (a duplicate in someone's chat is worse than a rare miss, so no by default)."""

    paid_broadcast: bool = False
    resend_uncertain: bool = False


class CampaignSpec(Strict):
    name: str = Field(min_length=1, max_length=200)
    bot: str = Field(min_length=1)
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    variants: tuple[Variant, ...] = Field(min_length=1)
    segment: Segment = Segment()
    schedule: Schedule = Schedule()
    caps: Caps = Caps()
    delivery: DeliveryOptions = DeliveryOptions()

    @model_validator(mode="after")
    def _variants(self) -> Self:
        names = [variant.name for variant in self.variants]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:
            raise ValueError(f"variant names must be unique: {', '.join(doubled)} repeated")
        if all(variant.language is not None for variant in self.variants):
            raise ValueError("give at least one variant without a language, for everyone else")
        return self

    def document(self) -> dict[str, Any]:
        """The spec as a file shows it: defaults left out, keys in a fixed order."""
        document = self.model_dump(mode="json", exclude_defaults=True)
        document["variants"] = [
            {"name": variant.name}
            | {key: shown.pop(key) for key in ("weight", "language") if key in shown}
            | shown
            for variant, shown in zip(self.variants, document["variants"], strict=True)
        ]
        return document


# What a campaign file may have at its top: the spec's keys, and `content` that its
# variants share.
TOP_LEVEL_KEYS = (*CampaignSpec.model_fields, "content")
