"""Frozen records and state enums shared by every layer; no I/O here."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

DEFAULT_API_URL = "https://api.telegram.org"


class BotStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    REVOKED = "revoked"


class SubscriberStatus(enum.StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    BLOCKED = "blocked"
    GONE = "gone"


class ChatType(enum.StrEnum):
    PRIVATE = "private"
    GROUP = "group"
    SUPERGROUP = "supergroup"
    CHANNEL = "channel"

    @classmethod
    def from_chat_id(cls, chat_id: int) -> ChatType:
        """Guess the chat type from the shape of its id (Telegram's id ranges)."""
        if chat_id > 0:
            return cls.PRIVATE
        if chat_id <= -1_000_000_000_000:
            return cls.SUPERGROUP
        return cls.GROUP


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNCERTAIN = "uncertain"


class ParseMode(enum.StrEnum):
    HTML = "html"
    MARKDOWN_V2 = "markdownv2"
    NONE = "none"

    @property
    def telegram_name(self) -> str | None:
        """The value of Telegram's parse_mode field, None for plain text."""
        return {"html": "HTML", "markdownv2": "MarkdownV2", "none": None}[self.value]


@dataclass(frozen=True, slots=True)
class Bot:
    id: int
    name: str
    username: str
    token: str
    api_url: str
    rate_per_s: float
    status: BotStatus
    created_at: datetime
    paid_broadcast: bool = False
    paid_rate_per_s: float = 1000.0
    proxies: tuple[str, ...] = ()

    @property
    def masked_token(self) -> str:
        return mask_token(self.token)


def mask_token(token: str) -> str:
    """Show a token as `123456:…abcd`, never whole."""
    bot_id, _, secret = token.partition(":")
    return f"{bot_id}:…{secret[-4:]}" if secret else "…"


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    name: str
    bot_id: int
    bot_name: str
    status: CampaignStatus
    paused_reason: str | None
    text: str
    parse_mode: ParseMode
    created_at: datetime
    paid_broadcast: bool = False
    resend_uncertain: bool = False


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    campaign_id: int
    campaign_name: str
    status: RunStatus
    audience: int
    paused_reason: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery claimed by a worker: everything needed to send it."""

    id: int
    run_id: int
    bot_id: int
    chat_id: int
    chat_type: ChatType
    attempts: int
    text: str
    parse_mode: ParseMode
    paid: bool = False  # sent with allow_paid_broadcast, paced at the bot's paid rate


@dataclass(frozen=True, slots=True)
class RunCounts:
    """Deliveries of a run by status, plus the events that explain them."""

    run_id: int
    total: int
    pending: int
    sending: int
    sent: int
    failed: int
    skipped: int
    uncertain: int
    blocked: int
    gone: int
    retried: int
    rate_limited: int
    first_sent_at: datetime | None
    last_sent_at: datetime | None

    @property
    def finished(self) -> int:
        return self.sent + self.failed + self.skipped + self.uncertain

    @property
    def sent_per_s(self) -> float:
        if self.first_sent_at is None or self.last_sent_at is None or self.sent < 2:
            return 0.0
        seconds = (self.last_sent_at - self.first_sent_at).total_seconds()
        return (self.sent - 1) / seconds if seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What a worker learnt about one delivery, ready to be written with its batch."""

    delivery_id: int
    run_id: int
    bot_id: int
    chat_id: int
    status: DeliveryStatus
    answered_at: datetime
    message_id: int | None = None
    failure: str | None = None
    error: str | None = None
    attempt_increment: int = 1
    delay_s: float = 0.0
    subscriber_status: SubscriberStatus | None = None
    subscriber_flag: str | None = None
    event: str | None = None
    pause_run: bool = False
    revoke_bot: bool = False
    migrate_to_chat_id: int | None = None
