"""Chunks produced by a thread: order, sizes, errors, and leaving early."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from bulletin.db.staging import chunks_in_thread


async def test_chunks__items_in_order_in_chunks_of_size() -> None:
    chunks = [chunk async for chunk in chunks_in_thread(range(10), lambda n: n * 2, 4)]
    assert chunks == [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18]]


async def test_chunks__error_while_producing__raised_to_the_consumer() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("line 2: broken")

    with pytest.raises(ValueError, match="line 2: broken"):
        async for _ in chunks_in_thread(items(), lambda n: n, 1):
            pass


async def test_chunks__consumer_leaves_early__producer_stops() -> None:
    produced = [0]

    def endless() -> Iterator[int]:
        while True:
            produced[0] += 1
            yield produced[0]

    async with contextlib.aclosing(chunks_in_thread(endless(), lambda n: n, 10)) as chunks:
        async for chunk in chunks:
            assert chunk[0] == 1
            break
    # Closing joined the thread (a producer that never stopped would hang here), and
    # it ran at most a few chunks ahead.
    assert produced[0] <= 60
