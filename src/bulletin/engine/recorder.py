"""Batched outcome writes: results buffer in memory and flush together, never one per message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bulletin import errors, models
from bulletin.engine.ports import Store

log = logging.getLogger(__name__)


class Recorder:
    """Buffers DeliveryResults and writes them every flush interval or when the batch is full."""

    def __init__(
        self,
        store: Store,
        worker_id: str,
        *,
        flush_interval_s: float,
        max_batch: int = 500,
        on_runs_finished: Callable[[list[int]], None] | None = None,
    ) -> None:
        self._store = store
        self._worker_id = worker_id
        self._flush_interval_s = flush_interval_s
        self._max_batch = max_batch
        self._buffer: list[models.DeliveryResult] = []
        self._outbox: list[models.OutboxResult] = []
        self._runs_to_check: set[int] = set()
        self._wake = asyncio.Event()
        self._on_runs_finished = on_runs_finished
        self.flushed = 0

    def add(self, result: models.DeliveryResult) -> None:
        self._buffer.append(result)
        if len(self._buffer) >= self._max_batch:
            self._wake.set()

    def add_outbox(self, result: models.OutboxResult) -> None:
        """An outbox message's outcome: written at the next flush, which it hastens."""
        self._outbox.append(result)
        self._wake.set()

    def check_runs(self, run_ids: list[int]) -> None:
        """Runs whose deliveries were skipped at claim time may be finished now."""
        self._runs_to_check.update(run_ids)

    @property
    def pending(self) -> int:
        return len(self._buffer) + len(self._outbox)

    async def run(self, stop: asyncio.Event) -> None:
        """Flush periodically until stop is set, then flush what is left."""
        while not stop.is_set():
            try:
                async with asyncio.timeout(self._flush_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()
        await self.flush()

    async def flush(self) -> None:
        """Write the buffer; on a database outage keep it and try again next time."""
        batch, self._buffer = self._buffer[: self._max_batch], self._buffer[self._max_batch :]
        runs, self._runs_to_check = self._runs_to_check, set()
        messages, self._outbox = self._outbox, []
        try:
            if messages:
                await self._store.record_outbox(self._worker_id, messages)
                messages = []  # written: a failure below must not write them twice
            finished = await self._store.record(self._worker_id, batch) if batch else []
            if runs:
                finished += await self._store.finish_runs(sorted(runs))
        except errors.DatabaseUnavailable as exc:
            log.warning("action=record_failed results=%d error=%s", len(batch), exc)
            self._buffer[:0] = batch
            self._outbox[:0] = messages
            self._runs_to_check |= runs
            await asyncio.sleep(self._flush_interval_s * 5)
            return
        self.flushed += len(batch)
        if finished and self._on_runs_finished is not None:
            self._on_runs_finished(finished)
        if self._buffer:
            self._wake.set()
