"""The sandbox world: bots, chats and the state of each chat towards the bots."""

from __future__ import annotations

import csv
import io
import random
import secrets
import string
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from bulletin.sandbox.files import Files

TOKEN_ALPHABET = string.ascii_letters + string.digits + "_-"
TOKEN_SECRET_LENGTH = 35
FIRST_BOT_ID = 7_000_000_001
# `bulletin sandbox` draws its bots' ids from above the demo's, a block of this many per
# invocation, so bots of different sandboxes can be registered side by side.
STANDALONE_BOT_IDS = range(7_100_000_001, 7_900_000_001)
BOT_ID_BLOCK = 1000
FIRST_USER_ID = 100_000_001
FIRST_SUPERGROUP_ID = -1_001_000_000_001
AUDIENCE_FIELDS = ("chat_id", "first_name", "username", "language_code")
FIRST_NAMES = (
    "Anna", "Ben", "Carla", "Dmitri", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas",
    "Katya", "Luis", "Mila", "Nico", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tanya",
)  # fmt: skip
LANGUAGE_CODES = ("en", "en", "en", "de", "es", "ru", "fr", "it", "pt", "uk")


class ChatKind(StrEnum):
    """The Bot API type of a chat."""

    PRIVATE = "private"
    GROUP = "group"
    SUPERGROUP = "supergroup"
    CHANNEL = "channel"


class ChatState(StrEnum):
    """How a chat answers the bots that send to it."""

    REACHABLE = "reachable"
    BLOCKED = "blocked"
    DEACTIVATED = "deactivated"
    KICKED = "kicked"
    NOT_MEMBER = "not_member"
    NO_RIGHTS = "no_rights"
    MIGRATED = "migrated"


@dataclass
class Bot:
    """A bot known to the sandbox, with its token and rates."""

    id: int
    username: str
    first_name: str
    token: str
    revoked: bool = False
    rate_per_s: float = 30.0
    paid_rate_per_s: float = 1000.0

    def user(self) -> dict[str, object]:
        """Return the bot as a Bot API User object."""
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def as_dict(self) -> dict[str, object]:
        """Return the bot as JSON for the control API."""
        return {
            "id": self.id,
            "username": self.username,
            "first_name": self.first_name,
            "token": self.token,
            "revoked": self.revoked,
            "rate_per_s": self.rate_per_s,
            "paid_rate_per_s": self.paid_rate_per_s,
        }


@dataclass
class Chat:
    """A chat and its state towards every bot."""

    id: int
    kind: ChatKind
    state: ChatState = ChatState.REACHABLE
    title: str = ""
    first_name: str = ""
    username: str = ""
    language_code: str = ""
    migrate_to: int | None = None
    last_message_id: int = 0

    def next_message_id(self) -> int:
        """Allocate the next message id in this chat."""
        self.last_message_id += 1
        return self.last_message_id

    def described(self) -> dict[str, object]:
        """Return the chat as a Bot API Chat object."""
        chat: dict[str, object] = {"id": self.id, "type": self.kind.value}
        if self.kind is ChatKind.PRIVATE:
            chat["first_name"] = self.first_name
        else:
            chat["title"] = self.title
        if self.username:
            chat["username"] = self.username
        return chat

    def as_dict(self) -> dict[str, object]:
        """Return the chat as JSON for the control API."""
        return {
            "chat_id": self.id,
            "kind": self.kind.value,
            "state": self.state.value,
            "migrate_to": self.migrate_to,
        }


@dataclass
class World:
    """Every bot and chat the sandbox knows, plus the generated audience."""

    seed: int = 0
    bots: dict[int, Bot] = field(default_factory=dict)
    chats: dict[int, Chat] = field(default_factory=dict)
    audience: list[dict[str, object]] = field(default_factory=list)
    files: Files = field(default_factory=Files)
    first_bot_id: int = FIRST_BOT_ID

    def __post_init__(self) -> None:
        self._random = random.Random(f"bots:{self.seed}")
        self._next_supergroup_id = FIRST_SUPERGROUP_ID

    @classmethod
    def generate(
        cls,
        users: int,
        groups: int = 0,
        blocked: float = 0.0,
        gone: float = 0.0,
        deactivated: float = 0.0,
        seed: int = 0,
        first_bot_id: int = FIRST_BOT_ID,
    ) -> World:
        """Build a deterministic world of users and supergroups from a seed."""
        world = cls(seed=seed, first_bot_id=first_bot_id)
        chooser = random.Random(f"audience:{seed}")
        states = _user_states(users, blocked, gone, deactivated, chooser)
        for offset, state in enumerate(states):
            world._add_user(FIRST_USER_ID + offset, state, chooser)
        for _ in range(groups):
            group = world._new_supergroup()
            world.audience.append(_audience_row(group.id, group.title, "", ""))
        return world

    def add_bot(
        self,
        rate_per_s: float = 30.0,
        token: str | None = None,
        paid_rate_per_s: float = 1000.0,
    ) -> Bot:
        """Register a bot; a token is generated unless given as "{id}:{secret}"."""
        if token is None:
            bot_id = max(self.bots, default=self.first_bot_id - 1) + 1
            secret = "".join(self._random.choices(TOKEN_ALPHABET, k=TOKEN_SECRET_LENGTH))
            token = f"{bot_id}:{secret}"
        bot_id = _token_bot_id(token)
        if bot_id in self.bots:
            raise ValueError(f"bot {bot_id} already exists")
        number = len(self.bots) + 1
        bot = Bot(
            id=bot_id,
            username=f"sandbox_{number}_bot",
            first_name=f"Sandbox Bot {number}",
            token=token,
            rate_per_s=rate_per_s,
            paid_rate_per_s=paid_rate_per_s,
        )
        self.bots[bot_id] = bot
        return bot

    def revoke_bot(self, bot_id: int) -> Bot:
        """Revoke a bot's token so every call answers 401."""
        bot = self.bots.get(bot_id)
        if bot is None:
            raise KeyError(f"bot {bot_id} not found")
        bot.revoked = True
        return bot

    def bot_by_token(self, token: str) -> Bot | None:
        """Find the unrevoked bot owning a token."""
        try:
            bot = self.bots.get(_token_bot_id(token))
        except ValueError:
            return None
        if bot is None or bot.revoked or bot.token != token:
            return None
        return bot

    def set_chat(
        self,
        chat_id: int,
        kind: ChatKind | str,
        state: ChatState | str = ChatState.REACHABLE,
        migrate_to: int | None = None,
    ) -> Chat:
        """Create or change a chat; a migrated group gets a reachable supergroup."""
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = Chat(id=chat_id, kind=ChatKind(kind))
            chat.title = f"Chat {abs(chat_id)}"
            chat.first_name = f"User {chat_id}"
            self.chats[chat_id] = chat
        chat.kind = ChatKind(kind)
        chat.state = ChatState(state)
        chat.migrate_to = None
        if chat.state is ChatState.MIGRATED:
            chat.migrate_to = self._migration_target(migrate_to, chat.title)
        return chat

    def audience_rows(self) -> list[dict[str, object]]:
        """Return one row per generated chat, including the ones the world forgot."""
        return [dict(row) for row in self.audience]

    def audience_csv(self) -> str:
        """Return the generated audience as CSV text with a header row."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=AUDIENCE_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.audience)
        return buffer.getvalue()

    def write_audience_csv(self, path: Path | str) -> None:
        """Write the generated audience as a CSV file."""
        Path(path).write_text(self.audience_csv(), encoding="utf-8")

    def _add_user(self, user_id: int, state: ChatState | None, chooser: random.Random) -> None:
        first_name = chooser.choice(FIRST_NAMES)
        username = f"{first_name.lower()}{user_id % 100000}" if chooser.random() < 0.8 else ""
        language_code = chooser.choice(LANGUAGE_CODES)
        self.audience.append(_audience_row(user_id, first_name, username, language_code))
        if state is None:
            return
        self.chats[user_id] = Chat(
            id=user_id,
            kind=ChatKind.PRIVATE,
            state=state,
            first_name=first_name,
            username=username,
            language_code=language_code,
        )

    def _new_supergroup(self, title: str = "") -> Chat:
        while self._next_supergroup_id in self.chats:
            self._next_supergroup_id -= 1
        chat_id = self._next_supergroup_id
        number = FIRST_SUPERGROUP_ID - chat_id + 1
        chat = Chat(id=chat_id, kind=ChatKind.SUPERGROUP, title=title or f"Group {number}")
        self.chats[chat_id] = chat
        return chat

    def _migration_target(self, migrate_to: int | None, title: str) -> int:
        if migrate_to is None:
            return self._new_supergroup(title).id
        if migrate_to not in self.chats:
            self.set_chat(migrate_to, ChatKind.SUPERGROUP).title = title
        return migrate_to


def standalone_first_bot_id() -> int:
    """The first bot id of a new `bulletin sandbox`: unlike the demo's, and likely any other's."""
    blocks = len(STANDALONE_BOT_IDS) // BOT_ID_BLOCK
    return STANDALONE_BOT_IDS.start + secrets.randbelow(blocks) * BOT_ID_BLOCK


def _user_states(
    users: int, blocked: float, gone: float, deactivated: float, chooser: random.Random
) -> list[ChatState | None]:
    """Assign exact shares of states to users, shuffled; None means unknown to the world."""
    states: list[ChatState | None] = []
    states += [None] * round(users * gone)
    states += [ChatState.BLOCKED] * round(users * blocked)
    states += [ChatState.DEACTIVATED] * round(users * deactivated)
    if len(states) > users:
        raise ValueError("blocked + gone + deactivated exceeds 1")
    states += [ChatState.REACHABLE] * (users - len(states))
    chooser.shuffle(states)
    return states


def _audience_row(
    chat_id: int, first_name: str, username: str, language_code: str
) -> dict[str, object]:
    return {
        "chat_id": chat_id,
        "first_name": first_name,
        "username": username,
        "language_code": language_code,
    }


def _token_bot_id(token: str) -> int:
    """Return the bot id of a "{id}:{secret}" token, or raise ValueError."""
    bot_id, separator, secret = token.partition(":")
    if not separator or not secret or not bot_id.isdigit():
        raise ValueError(f"malformed token for bot {bot_id!r}")
    return int(bot_id)
