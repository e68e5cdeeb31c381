"""Updates applied to subscribers: once per update id, with the polling offset, atomically."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bulletin import models
from bulletin.db import outbox, stats
from bulletin.db.connection import Connection
from bulletin.db.pool import Pool
from bulletin.db.pool import connection as pooled
from bulletin.db.queries import sql
from bulletin.retries import retrying
from bulletin.subscriptions import Change, Decision, Kind, without_reply

PROCESSED_KEEP_S = 2 * 24 * 3600.0  # Telegram stops redelivering an update after a day


class UpdateStore:
    """Records subscription decisions in PostgreSQL (bulletin.subscriptions.Store)."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def apply(self, bot_id: int, update_id: int, decision: Decision) -> bool:
        """Apply a decision in the transaction that marks its update processed; answer nobody.

        For an operator's own bot (telegram.router), which answers for itself.
        """
        return (await self.apply_updates(bot_id, [(update_id, without_reply(decision))]))[0]

    async def apply_updates(
        self, bot_id: int, decisions: Sequence[tuple[int, Decision]]
    ) -> list[bool]:
        """Apply a batch of (update id, decision) in one transaction, queueing their replies.

        One transaction for a whole getUpdates batch: an opt-out in it commits (and its
        workers hear of it) without waiting for the updates before it one by one. An update
        applied before is skipped (False), its reply with it, so nobody is answered twice.
        Transient database errors are waited out: the batch applies whole or not at all.
        """
        return await retrying(lambda: self._apply_updates(bot_id, decisions), what="apply_updates")

    async def _apply_updates(
        self, bot_id: int, decisions: Sequence[tuple[int, Decision]]
    ) -> list[bool]:
        async with pooled(self._pool) as connection, connection.transaction():
            changed: list[Kind] = []
            applied = [
                await _apply_one(connection, bot_id, update_id, decision, changed)
                for update_id, decision in decisions
            ]
            await stats.add_subscribers(
                connection,
                bot_id,
                subscribed=sum(kind in _NEW_SUBSCRIBER for kind in changed),
                opted_out=sum(kind in _OPT_OUT for kind in changed),
            )
            return applied

    async def next_update_id(self, bot_id: int) -> int:
        """Where long polling resumes: 0 (everything Telegram holds) before the first update."""
        async with pooled(self._pool) as connection:
            value = await connection.fetchval(sql("next_update_id"), bot_id)
        return int(value) if value is not None else 0

    async def prune(self, keep_s: float = PROCESSED_KEEP_S) -> None:
        async with pooled(self._pool) as connection:
            await connection.execute(sql("prune_processed_updates"), keep_s)


async def _apply_one(
    connection: Connection, bot_id: int, update_id: int, decision: Decision, changed: list[Kind]
) -> bool:
    if await connection.fetchval(sql("claim_update"), bot_id, update_id) is None:
        return False
    if decision.change is not None:
        if await apply_change(connection, bot_id, decision.change):
            changed.append(decision.change.kind)
        if decision.reply:
            reply = models.Message(models.ContentKind.TEXT, decision.reply, models.ParseMode.NONE)
            await outbox.enqueue(
                connection, bot_id, decision.change.chat.chat_id, models.OutboxKind.REPLY, reply
            )
    return True


async def apply_change(connection: Connection, bot_id: int, change: Change) -> bool:
    """Write one change to the subscribers table, and its event when something changed."""
    recorded = await _WRITERS[change.kind](connection, bot_id, change)
    if recorded is None:
        return False
    chat_id, detail = recorded
    await connection.execute(
        sql("insert_events"), [change.kind.value], [bot_id], [None], [chat_id], [detail]
    )
    return True


# Each writer returns the event to record, (chat id, detail), or None when nothing changed.
Recorded = tuple[int, str | None] | None


async def _subscribe(connection: Connection, bot_id: int, change: Change) -> Recorded:
    chat = change.chat
    previous = await connection.fetchval(
        sql("subscribe_chat"), bot_id, chat.chat_id, chat.chat_type.value,
        chat.first_name, chat.username, chat.language_code, chat.title,
        change.source, change.can_post, change.flag,
    )  # fmt: skip
    if previous == models.SubscriberStatus.SUBSCRIBED:
        return None
    return chat.chat_id, change.source


async def _set_status(connection: Connection, bot_id: int, change: Change) -> Recorded:
    status = _STATUS_OF[change.kind]
    chat = change.chat
    previous = await connection.fetchval(
        sql("set_chat_status"), bot_id, chat.chat_id, chat.chat_type.value, status.value
    )
    if previous == status:
        return None
    # Delivered at commit: workers drop what they claimed for this chat before sending it.
    await connection.execute(sql("notify_optout"), bot_id, chat.chat_id)
    return chat.chat_id, f"was {previous or 'unknown'}"


async def _set_rights(connection: Connection, bot_id: int, change: Change) -> Recorded:
    chat = change.chat
    await connection.fetchval(
        sql("set_chat_rights"), bot_id, chat.chat_id, chat.chat_type.value,
        chat.title, change.can_post, change.flag,
    )  # fmt: skip
    return chat.chat_id, f"can_post={str(change.can_post).lower()}"


async def _note_unblock(connection: Connection, bot_id: int, change: Change) -> Recorded:
    return change.chat.chat_id, "stays blocked until the person presses Start"


async def _migrate(connection: Connection, bot_id: int, change: Change) -> Recorded:
    """Move the subscriber to the supergroup's id; nothing when the old id is not known."""
    old_chat_id, new_chat_id = change.chat.chat_id, change.new_chat_id
    if (
        new_chat_id is None
        or await connection.fetchval(sql("chat_status"), bot_id, old_chat_id) is None
    ):
        return None
    await connection.fetchval(sql("migrate_chat"), bot_id, old_chat_id, new_chat_id)
    return new_chat_id, f"from {old_chat_id}"


Writer = Callable[[Connection, int, Change], Awaitable[Recorded]]

_WRITERS: dict[Kind, Writer] = {
    Kind.SUBSCRIBE: _subscribe,
    Kind.UNSUBSCRIBE: _set_status,
    Kind.BLOCK: _set_status,
    Kind.GONE: _set_status,
    Kind.RIGHTS: _set_rights,
    Kind.UNBLOCK: _note_unblock,
    Kind.MIGRATE: _migrate,
}

# What the daily rollups count: the same changes as the subscriber.* events they log.
_NEW_SUBSCRIBER = frozenset({Kind.SUBSCRIBE})
_OPT_OUT = frozenset({Kind.UNSUBSCRIBE, Kind.BLOCK})

_STATUS_OF = {
    Kind.UNSUBSCRIBE: models.SubscriberStatus.UNSUBSCRIBED,
    Kind.BLOCK: models.SubscriberStatus.BLOCKED,
    Kind.GONE: models.SubscriberStatus.GONE,
}
