"""The worker's store: bot leases, claiming deliveries, and recording outcomes in batches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import asyncpg

from bulletin import models
from bulletin.db import bots as bot_rows
from bulletin.db import clock, stats
from bulletin.db import outbox as outbox_rows
from bulletin.db import subscribers as subscriber_rows
from bulletin.db import variants as variant_rows
from bulletin.db.connection import Connection
from bulletin.db.pool import connection as pooled
from bulletin.db.queries import sql

RATE_LIMITED_EVENT = "delivery.rate_limited"  # engine.decide's event for a 429


class DeliveryStore:
    """Every query a worker runs, each on a pooled connection."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def bot(self, bot_id: int) -> models.Bot:
        async with pooled(self._pool) as connection:
            return await bot_rows.by_id(connection, bot_id)

    async def lease_bots(
        self, worker_id: str, lease_s: float, limit: int, only: Sequence[int] | None
    ) -> list[int]:
        """Take or renew leases on bots with work; `only` restricts to some bots."""
        return await self._lease(sql("lease_bots"), worker_id, lease_s, limit, only)

    async def lease_outbox_bots(
        self, worker_id: str, lease_s: float, limit: int, only: Sequence[int] | None
    ) -> list[int]:
        """Take leases on bots with an outbox message due that nobody else holds."""
        return await self._lease(sql("lease_outbox_bots"), worker_id, lease_s, limit, only)

    async def _lease(
        self, query: str, worker_id: str, lease_s: float, limit: int, only: Sequence[int] | None
    ) -> list[int]:
        async with pooled(self._pool) as connection:
            rows = await connection.fetch(query, worker_id, lease_s, limit)
            leased = [row["bot_id"] for row in rows]
            if only is not None:
                extra = [bot_id for bot_id in leased if bot_id not in only]
                if extra:
                    await connection.execute(sql("release_leases"), worker_id, extra)
                leased = [bot_id for bot_id in leased if bot_id in only]
            return leased

    async def revoked_bots_with_work(self) -> list[str]:
        async with pooled(self._pool) as connection:
            return [row["name"] for row in await connection.fetch(sql("revoked_bots_with_work"))]

    async def release_leases(self, worker_id: str, bot_ids: Sequence[int]) -> None:
        async with pooled(self._pool) as connection:
            await connection.execute(sql("release_leases"), worker_id, list(bot_ids))

    async def settle_orphans(
        self, bot_id: int, worker_id: str, resend_uncertain: bool
    ) -> list[tuple[int, int]]:
        """Settle deliveries a dead worker left `sending`; return (run_id, chat_id) of each."""
        async with pooled(self._pool) as connection, connection.transaction():
            rows = await connection.fetch(
                sql("settle_orphans"), bot_id, worker_id, resend_uncertain
            )
            await connection.execute(sql("settle_outbox_orphans"), bot_id, worker_id)
            await self._insert_events(
                connection,
                [
                    (
                        f"delivery.{row['status'] if row['handed'] else 'unsent'}_after_crash",
                        bot_id,
                        row["run_id"],
                        row["chat_id"],
                        None,
                    )
                    for row in rows
                ],
            )
            await stats.add_deliveries(connection, rows)
            return [(row["run_id"], row["chat_id"]) for row in rows]

    async def claim(
        self, bot_id: int, worker_id: str, limit: int, claim_id: int
    ) -> tuple[list[models.Delivery], list[int]]:
        """Claim due deliveries under a token: (to send, run ids skipped for consent)."""
        # One transaction: the chats skipped for consent are counted as they commit.
        async with pooled(self._pool) as connection, connection.transaction():
            rows = await connection.fetch(
                sql("claim_deliveries"), bot_id, worker_id, limit, claim_id
            )
            await stats.add_deliveries(connection, rows)
        # One Template per variant in the batch: rendering caches key on it.
        templates: dict[int, models.Template] = {}
        claimed = [_to_delivery(row, templates) for row in rows if row["status"] == "sending"]
        skipped_runs = sorted({row["run_id"] for row in rows if row["status"] == "skipped"})
        return claimed, skipped_runs

    async def release_lost_claim(self, bot_id: int, worker_id: str, claim_id: int) -> int:
        """Put back to pending what a failed claim may have claimed; return how many rows."""
        async with pooled(self._pool) as connection:
            lost: int = await connection.fetchval(
                sql("release_lost_claim"), bot_id, worker_id, claim_id
            )
        return lost

    async def hand_over(self, worker_id: str, claims: Sequence[tuple[int, int]]) -> set[int]:
        """Mark (delivery id, claim id) pairs as handed to Telegram; return the ids still
        this claim's, the only ones to send."""
        ids, claim_ids = [list(column) for column in zip(*claims, strict=True)] or ([], [])
        async with pooled(self._pool) as connection:
            rows = await connection.fetch(sql("hand_over_deliveries"), worker_id, ids, claim_ids)
        return {row["id"] for row in rows}

    async def release_claims(self, worker_id: str, claims: Sequence[tuple[int, int]]) -> None:
        """Put (delivery id, claim id) pairs never handed to Telegram back to pending."""
        ids, claim_ids = [list(column) for column in zip(*claims, strict=True)] or ([], [])
        async with pooled(self._pool) as connection:
            await connection.execute(sql("release_claims"), worker_id, ids, claim_ids)

    async def record(self, worker_id: str, results: Sequence[models.DeliveryResult]) -> list[int]:
        """Write a batch of outcomes in one transaction; return the runs that finished."""
        async with pooled(self._pool) as connection, connection.transaction():
            rows = await connection.fetch(
                sql("record_outcomes"), worker_id, *_outcome_columns(results)
            )
            # Telegram's word on a chat holds whoever settles the row: marks are idempotent.
            await _mark_subscribers(connection, results)
            # Events and side effects only for rows finalised now: a batch written again
            # (its commit's answer lost) or a row another worker settled must not log twice
            # or, for a migration, skip the delivery already redirected to the new chat.
            finalised = {(row["id"], row["claim_id"]) for row in rows}
            written = [r for r in results if (r.delivery_id, r.claim_id) in finalised]
            await self._insert_events(
                connection,
                [
                    (r.decision.event, r.bot_id, r.run_id, r.chat_id, r.error)
                    for r in written
                    if r.decision.event is not None
                ],
            )
            settled = list(rows)
            for result in written:
                settled += await _apply_side_effects(connection, result)
            run_ids = sorted({r.run_id for r in results})
            finished = await finish_runs(connection, run_ids)
            rate_limited = {
                r.delivery_id for r in written if r.decision.event == RATE_LIMITED_EVENT
            }
            await stats.add_deliveries(connection, settled, rate_limited)
            return finished

    async def finish_runs(self, run_ids: Sequence[int]) -> list[int]:
        async with pooled(self._pool) as connection:
            return await finish_runs(connection, run_ids)

    async def claim_outbox(
        self, bot_id: int, worker_id: str, limit: int, claim_id: int
    ) -> list[models.OutboxMessage]:
        async with pooled(self._pool) as connection:
            return await outbox_rows.claim(connection, bot_id, worker_id, limit, claim_id)

    async def record_outbox(self, worker_id: str, results: Sequence[models.OutboxResult]) -> None:
        async with pooled(self._pool) as connection:
            await outbox_rows.record(connection, worker_id, results)

    async def release_outbox(self, worker_id: str, claims: Sequence[tuple[int, int]]) -> None:
        async with pooled(self._pool) as connection:
            await outbox_rows.release(connection, worker_id, claims)

    @staticmethod
    async def _insert_events(
        connection: Connection,
        events: list[tuple[str | None, int | None, int | None, int | None, str | None]],
    ) -> None:
        if not events:
            return
        columns = list(zip(*events, strict=True))
        await connection.execute(sql("insert_events"), *(list(column) for column in columns))


async def finish_runs(connection: Connection, run_ids: Sequence[int]) -> list[int]:
    rows = await connection.fetch(sql("finish_runs"), list(run_ids))
    return [row["id"] for row in rows]


def _to_delivery(row: asyncpg.Record, templates: dict[int, models.Template]) -> models.Delivery:
    template = templates.get(row["variant_id"])
    if template is None:
        template = templates[row["variant_id"]] = variant_rows.to_template(row)
    return models.Delivery(
        id=row["id"],
        claim_id=row["claim_id"],
        run_id=row["run_id"],
        bot_id=row["bot_id"],
        chat_id=row["chat_id"],
        chat_type=models.ChatType(row["chat_type"]),
        attempts=row["attempts"],
        template=template,
        recipient=subscriber_rows.to_recipient(row),
        paid=row["paid"],
    )


def _outcome_columns(results: Sequence[models.DeliveryResult]) -> list[list[object]]:
    return [
        [r.delivery_id for r in results],
        [r.decision.status.value for r in results],
        [r.message_id for r in results],
        [r.decision.failure for r in results],
        [r.error for r in results],
        [r.decision.attempt_increment for r in results],
        [r.decision.delay_s for r in results],
        clock.answer_ages_s(results),
        [r.claim_id for r in results],
    ]


async def _mark_subscribers(
    connection: Connection, results: Sequence[models.DeliveryResult]
) -> None:
    by_bot: dict[int, list[models.DeliveryResult]] = defaultdict(list)
    for result in results:
        decision = result.decision
        if decision.subscriber_status is not None or decision.subscriber_flag is not None:
            by_bot[result.bot_id].append(result)
    for bot_id, marked in by_bot.items():
        await connection.execute(
            sql("mark_subscribers"),
            bot_id,
            [r.chat_id for r in marked],
            [_value(r.decision.subscriber_status) for r in marked],
            [r.decision.subscriber_flag for r in marked],
        )


def _value(status: models.SubscriberStatus | None) -> str | None:
    return status.value if status is not None else None


async def _apply_side_effects(
    connection: Connection, result: models.DeliveryResult
) -> list[asyncpg.Record]:
    """The rare outcomes that change more than the delivery: one statement each.

    Returns the deliveries they settled (a migrated group's delivery skipped), for the stats.
    """
    decision = result.decision
    if decision.pause_run:
        await connection.execute(sql("pause_run"), result.run_id, result.error)
    if decision.revoke_bot:
        await connection.execute(
            sql("set_bot_status"), result.bot_id, models.BotStatus.REVOKED.value
        )
    if decision.migrate_to_chat_id is not None:
        return await _migrate(connection, result, decision.migrate_to_chat_id)
    return []


async def _migrate(
    connection: Connection, result: models.DeliveryResult, new_chat_id: int
) -> list[asyncpg.Record]:
    subscriber_id = await connection.fetchval(
        sql("migrate_chat"), result.bot_id, result.chat_id, new_chat_id
    )
    redirected = None
    if subscriber_id is not None:
        redirected = await connection.fetchval(
            sql("redirect_delivery"), result.delivery_id, subscriber_id, new_chat_id
        )
    if redirected is not None:
        return []
    return await connection.fetch(
        sql("skip_delivery"),
        result.delivery_id,
        "migrated",
        f"group moved to {new_chat_id}, which this run already covers",
    )
