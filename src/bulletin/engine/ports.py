"""What the engine needs from storage and from Telegram, as small Protocols."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol

from bulletin import models
from bulletin.telegram.outcome import Outcome


class Store(Protocol):
    async def bot(self, bot_id: int) -> models.Bot: ...

    async def lease_bots(
        self, worker_id: str, lease_s: float, limit: int, only: Sequence[int] | None
    ) -> list[int]: ...

    # Only bots with an outbox message due that no other process holds.
    async def lease_outbox_bots(
        self, worker_id: str, lease_s: float, limit: int, only: Sequence[int] | None
    ) -> list[int]: ...

    async def revoked_bots_with_work(self) -> list[str]: ...

    async def release_leases(self, worker_id: str, bot_ids: Sequence[int]) -> None: ...

    async def settle_orphans(
        self, bot_id: int, worker_id: str, resend_uncertain: bool
    ) -> list[tuple[int, int]]: ...

    async def claim(
        self, bot_id: int, worker_id: str, limit: int, claim_id: int
    ) -> tuple[list[models.Delivery], list[int]]: ...

    # Marks (delivery id, claim id) pairs handed to Telegram; the ids still of their claim.
    async def hand_over(self, worker_id: str, claims: Sequence[tuple[int, int]]) -> set[int]: ...

    # (delivery id, claim id) pairs never handed to Telegram.
    async def release_claims(self, worker_id: str, claims: Sequence[tuple[int, int]]) -> None: ...

    async def release_lost_claim(self, bot_id: int, worker_id: str, claim_id: int) -> int: ...

    async def record(
        self, worker_id: str, results: Sequence[models.DeliveryResult]
    ) -> list[int]: ...

    async def finish_runs(self, run_ids: Sequence[int]) -> list[int]: ...

    async def claim_outbox(
        self, bot_id: int, worker_id: str, limit: int, claim_id: int
    ) -> list[models.OutboxMessage]: ...

    async def record_outbox(
        self, worker_id: str, results: Sequence[models.OutboxResult]
    ) -> None: ...

    # (outbox id, claim id) pairs never handed to Telegram.
    async def release_outbox(self, worker_id: str, claims: Sequence[tuple[int, int]]) -> None: ...


class NoticeHandler(Protocol):
    """What a worker does when the database tells it something."""

    def outbox(self, bot_id: int) -> None: ...

    def opted_out(self, bot_id: int, chat_id: int) -> None: ...

    # The listening connection came back: notifications may have been missed meanwhile.
    def reconnected(self) -> None: ...


class Notices(Protocol):
    """The database's wake-ups (LISTEN/NOTIFY), delivered to a handler until stop."""

    async def listen(self, handler: NoticeHandler, stop: asyncio.Event) -> None: ...


class Sender(Protocol):
    async def send(
        self, chat_id: int, message: models.Message, *, paid: bool = False
    ) -> Outcome: ...

    async def close(self) -> None: ...


SenderFactory = Callable[[models.Bot], Sender]


class Observer(Protocol):
    """What the engine reports as it sends, for metrics: cheap, never blocking, never raising.

    Bots are named by their `bulletin bot` name: never a token, never a chat.
    """

    # One Bot API send call answered (whatever the answer), after duration_s.
    def send_answered(self, bot: str, duration_s: float) -> None: ...

    # A 429: the bot's sends held paused_s longer than they already were.
    def rate_limited(self, bot: str, paused_s: float) -> None: ...

    # The bot's pace now, and the configured rate it recovers towards (0, 0: not sent here).
    def paced(self, bot: str, rate_per_s: float, limit_per_s: float) -> None: ...


class Unobserved:
    """The observer of a process that keeps no metrics."""

    def send_answered(self, bot: str, duration_s: float) -> None:
        pass

    def rate_limited(self, bot: str, paused_s: float) -> None:
        pass

    def paced(self, bot: str, rate_per_s: float, limit_per_s: float) -> None:
        pass
