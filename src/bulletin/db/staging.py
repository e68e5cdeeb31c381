"""Rows parsed in a thread, chunk by chunk, while PostgreSQL merges the previous chunk."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

_DONE = object()
_PUT_WAIT_S = 0.1


async def chunks_in_thread(
    items: Iterable[T], convert: Callable[[T], Any], size: int
) -> AsyncIterator[list[Any]]:
    """Yield lists of up to size converted items, produced by a thread.

    Parsing a file is Python work and merging it is PostgreSQL work: on two cores they
    overlap. An error while producing is raised here; leaving early stops the thread.
    """
    handoff: queue.Queue[Any] = queue.Queue(maxsize=2)
    stopped = threading.Event()
    thread = threading.Thread(
        target=_produce, args=(items, convert, size, handoff, stopped), daemon=True
    )
    thread.start()
    try:
        while True:
            chunk = await asyncio.to_thread(handoff.get)
            if chunk is _DONE:
                return
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk
    finally:
        stopped.set()
        await asyncio.to_thread(thread.join)


def _produce(
    items: Iterable[T],
    convert: Callable[[T], Any],
    size: int,
    handoff: queue.Queue[Any],
    stopped: threading.Event,
) -> None:
    try:
        chunk: list[Any] = []
        for item in items:
            chunk.append(convert(item))
            if len(chunk) >= size:
                if not _hand(handoff, chunk, stopped):
                    return
                chunk = []
        if chunk and not _hand(handoff, chunk, stopped):
            return
        _hand(handoff, _DONE, stopped)
    except BaseException as exc:  # handed to the consumer, which raises it
        _hand(handoff, exc, stopped)


def _hand(handoff: queue.Queue[Any], value: Any, stopped: threading.Event) -> bool:
    """Put value for the consumer unless it has gone; False when it has."""
    while not stopped.is_set():
        try:
            handoff.put(value, timeout=_PUT_WAIT_S)
            return True
        except queue.Full:
            continue
    return False
