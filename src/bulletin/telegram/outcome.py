"""What a Bot API call came to: plain values without aiogram, so the engine can import them
and a worker that has sent nothing yet never loads the Bot API client."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Action(enum.StrEnum):
    SENT = "sent"
    RATE_LIMITED = "rate_limited"  # pause the bot, requeue without an attempt
    BLOCKED = "blocked"  # final: the person blocked the bot or is deactivated
    GONE = "gone"  # final: the chat no longer exists for this bot
    MIGRATED = "migrated"  # the group became a supergroup: move and resend
    NO_RIGHTS = "no_rights"  # final for this chat: the bot may not post there
    CONTENT_ERROR = "content_error"  # the same for every chat: pause the campaign
    BOT_REVOKED = "bot_revoked"  # 401: the token no longer works
    RETRY = "retry"  # transient: back off and try again, bounded
    REJECTED = "rejected"  # any other refusal: final for this delivery


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    description: str = ""
    message_id: int | None = None
    retry_after_s: float = 0.0
    migrate_to_chat_id: int | None = None
    file_ids: tuple[str, ...] = ()  # of the media sent, in order: reused instead of uploading
