"""The API's answers, as pydantic models: what its OpenAPI document promises."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

# A name as bulletin keeps one: no control characters (PostgreSQL's text holds no NUL).
NAME_PATTERN = r"^[^\x00-\x1f\x7f]{1,200}$"
Name = Annotated[str, Path(pattern=NAME_PATTERN, description="Campaign name")]
RunNumber = Annotated[int, Path(ge=1, le=2_147_483_647, description="The run's number")]
NameFilter = Annotated[str | None, Query(pattern=NAME_PATTERN)]
BotName = Annotated[str, Path(pattern=NAME_PATTERN, description="Bot name, @username or id")]
# What BotFather hands out: the bot's id, a colon, a secret of URL-safe characters.
TOKEN_PATTERN = r"^[0-9]{1,20}:[A-Za-z0-9_-]{1,200}$"
Rate = Annotated[float, Field(ge=0.1, le=1000, description="Messages per second for this bot")]
Proxy = Annotated[str, Field(min_length=1, max_length=2000)]
Url = Annotated[str, Field(min_length=1, max_length=2000)]


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Failure(Answer):
    reason: str
    error: str | None
    deliveries: int


class RunStatus(Answer):
    """What `campaign status --json` says of a run."""

    run: int
    run_id: int
    campaign: str
    status: str
    paused_reason: str | None
    audience: int
    sent: int
    failed: int
    blocked: int
    gone: int
    skipped: int
    uncertain: int
    pending: int
    retried: int
    rate_limited_429: int
    msgs_per_s: float
    elapsed_s: float | None
    started_at: datetime
    finished_at: datetime | None
    # When `bulletin db prune` deleted the run's deliveries (its figures are kept).
    pruned_at: datetime | None = None
    failures: list[Failure]


class Started(Answer):
    """What a start did; `replayed`: answered from an earlier request with the same key."""

    outcome: Literal["started", "scheduled", "nothing_to_send"]
    message: str
    run: RunStatus | None = None
    next_run_at: datetime | None = None
    replayed: bool = False


class RunSummary(Answer):
    run: int
    status: str
    paused_reason: str | None
    audience: int
    sent: int
    failed: int
    uncertain: int
    pending: int
    started_at: datetime
    finished_at: datetime | None


class Delivery(Answer):
    id: int
    chat_id: int
    outcome: str
    failure: str | None
    description: str | None
    attempts: int
    at: datetime | None


class DeliveryPage(Answer):
    """A page of a run's deliveries; pass `next_after` as `after` for the next one."""

    deliveries: list[Delivery]
    next_after: int | None


class Saved(Answer):
    name: str
    outcome: Literal["created", "updated", "unchanged"]
    variants: int


class DailyStats(Answer):
    """`bulletin stats --json`: one row per day and bot (or campaign variant), and totals."""

    days: list[dict[str, int | str]]
    totals: dict[str, int]


class Health(Answer):
    status: Literal["ok"]


class Readiness(Answer):
    status: Literal["ready", "unavailable"]
    detail: str | None = None


class RequestBody(BaseModel):
    """A request body: an unknown field is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class BotAdd(RequestBody):
    """`bot add`: the token is checked with getMe before anything is kept."""

    token: str = Field(pattern=TOKEN_PATTERN, repr=False, description="From @BotFather")
    name: str | None = Field(default=None, pattern=NAME_PATTERN, description="Default: username")
    api_url: Url = Field(
        default="https://api.telegram.org",
        description="Bot API server: one of the server config's [web] bot_api_urls",
    )
    rate_per_s: Rate = 30.0
    paid_broadcast: bool = False
    proxies: list[Proxy] = Field(
        default_factory=list,
        max_length=20,
        description="Among the server config's [telegram] proxies, or `direct`",
    )


class BotChange(RequestBody):
    """`bot set`: what is absent (or null) stays as it is; `proxies: []` = the global ones."""

    rate_per_s: Rate | None = None
    paid_broadcast: bool | None = None
    proxies: list[Proxy] | None = Field(default=None, max_length=20)
    api_url: Url | None = None


class Bot(Answer):
    """What `bot list --json` says of a bot, without any of its token."""

    name: str
    username: str
    id: int
    api_url: str
    rate_per_s: float
    status: str
    paid_broadcast: bool
    subscribed: int
    proxies: list[str]


class BotRemoved(Answer):
    name: str
    id: int
    removed: bool


class CampaignListed(Answer):
    """What `campaign list --json` says of a campaign."""

    name: str
    bot: str
    status: str
    paused_reason: str | None
    last_run: int | None
    last_run_status: str | None
    text: str


class Sample(Answer):
    variant: str
    chat_id: int
    message: str


class Preview(Answer):
    """`campaign preview --json`: the chats a run now would reach, and rendered samples."""

    campaign: str
    audience: int
    samples: list[Sample]


class CheckRequest(RequestBody):
    test_chat: int | None = Field(
        default=None,
        ge=-(2**63),
        le=2**63 - 1,
        description="Send every variant to this chat first, through the bot's pace",
    )


class Checked(Answer):
    """`campaign check`: `passed`, or the problems found (one line each)."""

    campaign: str
    passed: bool
    audience: int
    problems: list[str]
    test_chat: int | None


class Acted(Answer):
    """What a pause, resume or cancel changed: runs touched, the campaign's status after."""

    campaign: str
    action: Literal["pause", "resume", "cancel"]
    status: str
    runs: int
    skipped: int | None = Field(default=None, description="cancel: pending deliveries skipped")


class Deleted(Answer):
    campaign: str
    deleted: bool
    runs: int
    deliveries: int


class Uploaded(Answer):
    """An upload kept; `media` is what a campaign document names it by."""

    media: str
    sha256: str
    filename: str
    content_type: str
    size_bytes: int
    created: bool  # False: the same bytes were uploaded before (the first name is kept)
    created_at: datetime
