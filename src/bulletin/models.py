"""Frozen records and state enums shared by every layer; no I/O here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
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
    DONE = "done"
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


class ContentKind(enum.StrEnum):
    TEXT = "text"
    PHOTO = "photo"
    VIDEO = "video"
    ANIMATION = "animation"
    DOCUMENT = "document"
    AUDIO = "audio"
    ALBUM = "album"
    COPY = "copy"


UPLOAD_PREFIX = "upload:"  # then the sha256 of a file uploaded through the API


class MediaOrigin(enum.StrEnum):
    """Where a media file comes from: Telegram's id of it, a URL Telegram fetches, a file here,
    or a file uploaded through the API and kept in the database."""

    FILE_ID = "file_id"
    URL = "url"
    PATH = "path"
    UPLOAD = "upload"

    @classmethod
    def of(cls, source: str) -> MediaOrigin:
        """`upload:…` is an upload; a URL has a scheme; a file_id is one base64url word;
        anything else is a path."""
        if source.startswith(UPLOAD_PREFIX):
            return cls.UPLOAD
        if "://" in source:
            return cls.URL
        if source and all(c.isascii() and (c.isalnum() or c in "_-") for c in source):
            return cls.FILE_ID
        return cls.PATH


@dataclass(frozen=True, slots=True)
class Upload:
    """The bytes of a file uploaded through the API, read from the database to be sent."""

    filename: str
    content: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Media:
    """One photo, video, animation, document or audio file of a message, caption rendered."""

    kind: ContentKind
    source: str
    caption: str = ""
    upload: Upload | None = field(default=None, repr=False)  # an `upload:` source's bytes

    @property
    def origin(self) -> MediaOrigin:
        return MediaOrigin.of(self.source)


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    url: str


@dataclass(frozen=True, slots=True)
class LinkPreview:
    disabled: bool = False
    url: str | None = None
    prefer_small_media: bool = False
    prefer_large_media: bool = False
    show_above_text: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    """A message rendered for one chat: exactly what the Bot API call carries."""

    kind: ContentKind
    text: str = ""  # the text of a text message, the caption of the others
    parse_mode: ParseMode = ParseMode.NONE
    media: tuple[Media, ...] = ()  # one for a single media message, 2–10 for an album
    copy_from_chat_id: int | str | None = None
    copy_message_id: int | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    disable_notification: bool = False
    protect_content: bool = False
    link_preview: LinkPreview | None = None


@dataclass(frozen=True, slots=True)
class Template:
    """A variant as stored, which rendering turns into a Message for one subscriber."""

    variant_id: int
    campaign_name: str
    campaign_fields: str  # JSON object
    text: str
    parse_mode: ParseMode
    content: str  # JSON object: the variant's kind, media, buttons and flags


@dataclass(frozen=True, slots=True)
class Recipient:
    """The subscriber fields a template may read."""

    chat_id: int
    first_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    tags: tuple[str, ...] = ()
    fields: str = "{}"  # JSON object of custom fields


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

    def __repr__(self) -> str:
        # A repr ends up in logs and tracebacks: the token and proxy credentials stay out.
        return (
            f"Bot(id={self.id!r}, name={self.name!r}, username={self.username!r},"
            f" token={self.masked_token!r}, api_url={self.api_url!r}, status={self.status!r},"
            f" proxies=<{len(self.proxies)} hidden>)"
        )


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
    next_run_at: datetime | None = None


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
    scheduled_for: datetime | None = None
    number: int = 1  # the campaign's own count of its runs: "run 3 of launch"
    pruned_at: datetime | None = None  # when `db prune` deleted its deliveries (tallies kept)

    @property
    def label(self) -> str:
        """How a person reads it: "run 3 of launch"."""
        return f"run {self.number} of {self.campaign_name}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery claimed by a worker: everything needed to send it."""

    id: int
    claim_id: int  # this claim of the row: outcomes and releases are written against it
    run_id: int
    bot_id: int
    chat_id: int
    chat_type: ChatType
    attempts: int
    template: Template
    recipient: Recipient
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
class DeliveryDecision:
    """What one Bot API answer means for a delivery, its chat, its run and its bot."""

    status: DeliveryStatus
    failure: str | None = None
    attempt_increment: int = 1
    delay_s: float = 0.0
    subscriber_status: SubscriberStatus | None = None
    subscriber_flag: str | None = None
    event: str | None = None
    pause_run: bool = False
    revoke_bot: bool = False
    migrate_to_chat_id: int | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What a worker learnt about one delivery, ready to be written with its batch."""

    delivery_id: int
    claim_id: int
    run_id: int
    bot_id: int
    chat_id: int
    decision: DeliveryDecision
    # time.monotonic() when Telegram answered: a duration of this process's clock, turned
    # into an instant of the database's when written, so one clock decides what is due.
    answered_s: float
    message_id: int | None = None
    error: str | None = None


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxKind(enum.StrEnum):
    """Why a message that is not a campaign delivery is sent."""

    REPLY = "reply"  # the listener answering /start or /stop
    TEST = "test"  # `campaign check --test-chat`


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """An outbox row claimed by the bot's lease holder: everything needed to send it."""

    id: int
    claim_id: int
    bot_id: int
    chat_id: int
    kind: OutboxKind
    message: Message
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxResult:
    """What Telegram answered for one outbox message, ready to be written with its batch."""

    outbox_id: int
    claim_id: int
    status: OutboxStatus
    answered_s: float  # time.monotonic() when Telegram answered, as in DeliveryResult
    message_id: int | None = None
    error: str | None = None
    attempt_increment: int = 1
    delay_s: float = 0.0
