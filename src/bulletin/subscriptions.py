"""The consent rules: what a Telegram update means for a chat's subscription. No I/O here.

The listener (polling or webhook) and the aiogram router operators embed both turn
updates into Signals and apply the Decision taken here, so every entry point follows
the same rules.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Protocol, assert_never

from bulletin import models
from bulletin.config import ListenerSettings

PAYLOAD_LIMIT = 64  # Telegram's limit on a deep-link start parameter
DEFAULT_SOURCE = "start"
ADDED_SOURCE = "added"


class MemberStatus(enum.StrEnum):
    """The bot's membership in a chat, as Telegram's ChatMember.status names it."""

    CREATOR = "creator"
    ADMINISTRATOR = "administrator"
    MEMBER = "member"
    RESTRICTED = "restricted"
    LEFT = "left"
    KICKED = "kicked"

    @property
    def present(self) -> bool:
        return self not in (MemberStatus.LEFT, MemberStatus.KICKED)


@dataclass(frozen=True, slots=True)
class ChatInfo:
    """What an update tells about a chat (and, for a private chat, its person)."""

    chat_id: int
    chat_type: models.ChatType
    first_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    title: str | None = None

    @property
    def private(self) -> bool:
        return self.chat_type is models.ChatType.PRIVATE

    def anonymous(self) -> ChatInfo:
        """Only the id and type: all an opt-out needs to be remembered."""
        return ChatInfo(self.chat_id, self.chat_type)


@dataclass(frozen=True, slots=True)
class Text:
    """A text message the bot received in a chat."""

    chat: ChatInfo
    text: str


@dataclass(frozen=True, slots=True)
class Membership:
    """The bot's own membership in a chat changed (a my_chat_member update)."""

    chat: ChatInfo
    previous: MemberStatus
    current: MemberStatus
    can_post: bool


@dataclass(frozen=True, slots=True)
class Migration:
    """A group became a supergroup with a new chat id."""

    old_chat_id: int
    new_chat_id: int


Signal = Text | Membership | Migration


class Kind(enum.StrEnum):
    """A change to one subscriber; the value is the event kind recorded for it."""

    SUBSCRIBE = "subscriber.subscribed"
    UNSUBSCRIBE = "subscriber.unsubscribed"
    BLOCK = "subscriber.blocked"
    UNBLOCK = "subscriber.unblocked"  # noted only: a person comes back by pressing Start
    GONE = "subscriber.gone"
    RIGHTS = "subscriber.rights"
    MIGRATE = "subscriber.migrated"


@dataclass(frozen=True, slots=True)
class Change:
    """One change to one subscriber, with what is known about the chat."""

    kind: Kind
    chat: ChatInfo
    source: str | None = None
    can_post: bool | None = None
    new_chat_id: int | None = None

    @property
    def flag(self) -> str | None:
        """Why sending needs attention, for a chat where the bot may not post."""
        return "bot may not post in this chat" if self.can_post is False else None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to record for an update, and what to answer the person, if anything."""

    change: Change | None = None
    reply: str | None = None


NOTHING = Decision()


class Store(Protocol):
    """Where decisions are recorded: once per update id, atomically."""

    async def apply(self, bot_id: int, update_id: int, decision: Decision) -> bool:
        """Record a decision; False when this update was applied before (nothing done)."""
        ...


def decide(signal: Signal | None, settings: ListenerSettings) -> Decision:
    """The one place that turns an update into a subscription change."""
    match signal:
        case None:
            return NOTHING
        case Text():
            return _text(signal, settings)
        case Membership():
            return _membership(signal)
        case Migration():
            chat = ChatInfo(signal.old_chat_id, models.ChatType.GROUP)
            return Decision(Change(Kind.MIGRATE, chat, new_chat_id=signal.new_chat_id))
        case _:
            assert_never(signal)


def _text(signal: Text, settings: ListenerSettings) -> Decision:
    # Commands count in private chats only: in a group, any member could send /stop,
    # and a group's consent is its admins adding or removing the bot.
    if not signal.chat.private:
        return NOTHING
    command, payload = parse_command(signal.text)
    if command == "start":
        source = payload[:PAYLOAD_LIMIT] if payload else DEFAULT_SOURCE
        change = Change(Kind.SUBSCRIBE, signal.chat, source=source)
        return Decision(change, settings.welcome_text or None)
    if command == "stop" or is_stop_keyword(signal.text, settings.stop_keywords):
        change = Change(Kind.UNSUBSCRIBE, signal.chat.anonymous())
        return Decision(change, settings.stop_confirmation or None)
    return NOTHING


def parse_command(text: str) -> tuple[str | None, str]:
    """('start', 'spring_promo') for '/start@my_bot spring_promo'; (None, '') for plain text."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None, ""
    head, _, rest = stripped.partition(" ")
    command = head[1:].split("@", 1)[0].lower()
    return command or None, rest.strip()


def is_stop_keyword(text: str, keywords: tuple[str, ...]) -> bool:
    """The whole message is a stop keyword ('STOP', ' unsubscribe '), never a sentence with one."""
    return text.strip().lower() in {keyword.strip().lower() for keyword in keywords}


def _membership(signal: Membership) -> Decision:
    chat = signal.chat
    if chat.private:
        return _private_membership(signal)
    if not signal.current.present:
        return Decision(Change(Kind.GONE, chat.anonymous()))
    if not signal.previous.present:
        change = Change(Kind.SUBSCRIBE, chat, source=ADDED_SOURCE, can_post=signal.can_post)
        return Decision(change)
    return Decision(Change(Kind.RIGHTS, chat, can_post=signal.can_post))


def _private_membership(signal: Membership) -> Decision:
    if signal.current is MemberStatus.KICKED:
        return Decision(Change(Kind.BLOCK, signal.chat.anonymous()))
    if signal.previous is MemberStatus.KICKED:
        return Decision(Change(Kind.UNBLOCK, signal.chat.anonymous()))
    return NOTHING


def without_reply(decision: Decision) -> Decision:
    """The same change, answering nobody (an operator's bot answers for itself)."""
    return replace(decision, reply=None)
