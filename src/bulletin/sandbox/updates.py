"""Each bot's queue of updates, with getUpdates' offset rules and an optional webhook."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

FIRST_UPDATE_ID = 800_000_001
UPDATES_LIMIT = 100
# Telegram's default when allowed_updates was never given: everything but these.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

Update = dict[str, object]


@dataclass
class Webhook:
    """Where and how updates of one bot are pushed."""

    url: str
    secret_token: str = ""
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class UpdateQueue:
    """The updates Telegram holds for one bot until they are confirmed or delivered."""

    next_update_id: int = FIRST_UPDATE_ID
    updates: list[Update] = field(default_factory=list)
    allowed_updates: frozenset[str] | None = None
    webhook: Webhook | None = None
    polls: int = 0  # getUpdates calls so far: a newer one ends an older long poll
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event | None = None  # shared by all queues: wakes webhook delivery

    def allows(self, kind: str) -> bool:
        if self.allowed_updates is None:
            return kind not in NOT_BY_DEFAULT
        return kind in self.allowed_updates

    def push(self, kind: str, payload: dict[str, object]) -> int | None:
        """Queue an update of a kind; None when the bot does not receive that kind."""
        if not self.allows(kind):
            return None
        update_id = self.next_update_id
        self.next_update_id += 1
        self.updates.append({"update_id": update_id, kind: payload})
        self.wake()
        return update_id

    def wake(self) -> None:
        """Wake long polls (and webhook delivery) waiting on this queue."""
        self.arrived.set()
        self.arrived = asyncio.Event()
        if self.changed is not None:
            self.changed.set()

    def confirm(self, offset: int) -> None:
        """getUpdates with an offset confirms every update below it; a negative one keeps the last."""
        if offset < 0:
            self.updates = self.updates[offset:]
        elif offset > 0:
            self.updates = [u for u in self.updates if update_id_of(u) >= offset]

    def take(self, limit: int) -> list[Update]:
        return self.updates[: max(1, min(limit, UPDATES_LIMIT))]

    def drop(self, update_id: int) -> None:
        self.updates = [u for u in self.updates if update_id_of(u) != update_id]


@dataclass
class Updates:
    """Every bot's update queue."""

    queues: dict[int, UpdateQueue] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def queue(self, bot_id: int) -> UpdateQueue:
        if bot_id not in self.queues:
            self.queues[bot_id] = UpdateQueue(changed=self.changed)
        return self.queues[bot_id]

    def pending(self, bot_id: int) -> int:
        return len(self.queue(bot_id).updates)

    def with_webhooks(self) -> list[tuple[int, UpdateQueue]]:
        return [(bot_id, q) for bot_id, q in self.queues.items() if q.webhook and q.updates]


def now() -> int:
    return int(time.time())


def update_id_of(update: Update) -> int:
    """The update_id of a queued update."""
    value = update["update_id"]
    assert isinstance(value, int)
    return value
