"""The rendering budget of one message: steps, CPU time, and the size of every value built.

Rendering runs on the worker's event loop, next to every other bot it serves, so a template
gets a bounded amount of work, checked from inside rendering (a thread cannot be killed):
the sandbox's hooks and every loop iteration spend a step and look at the clock.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from typing import Any

from bulletin import errors

STEP_LIMIT = 20_000  # calls, attribute reads, filters and loop iterations per message
CPU_LIMIT_S = 0.05  # CPU time one message may take to render
WALL_LIMIT_S = 0.5  # and wall time, however busy the machine is
VALUE_LIMIT = 32_768  # characters (or items) of any value a template builds
WIDTH_LIMIT = 4_096  # a padding, a format width or a precision
OUTPUT_MARGIN = 16_384  # raw output beyond Telegram's limit (markup, entities) before stopping
INT_BITS_LIMIT = 16_384  # integers a template computes
DEPTH_LIMIT = 32  # macros calling macros: deeper is a runaway recursion, and unwinding
# a thousand frames (Python's own limit) costs more than the whole budget


class Budget:
    """What one message may still spend."""

    __slots__ = ("_cpu_deadline", "_hard_deadline", "_soft_deadline", "depth", "steps_left")

    def __init__(self) -> None:
        now = time.monotonic()
        self.steps_left = STEP_LIMIT
        self.depth = 0
        self._soft_deadline = now + CPU_LIMIT_S
        self._hard_deadline = now + WALL_LIMIT_S
        self._cpu_deadline = time.thread_time() + CPU_LIMIT_S

    def spend(self) -> None:
        self.steps_left -= 1
        if self.steps_left < 0:
            raise exceeded(f"it takes more than {STEP_LIMIT:,} steps")
        now = time.monotonic()
        # Wall time first (cheap); CPU time only once it is past, so a process the
        # machine put aside for a moment is not blamed for it.
        if now > self._soft_deadline and (
            now > self._hard_deadline or time.thread_time() > self._cpu_deadline
        ):
            raise exceeded(f"it takes more than {CPU_LIMIT_S * 1000:.0f} ms to render")


_active: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("budget", default=None)


@contextlib.contextmanager
def metered() -> Iterator[Budget]:
    """The budget of one message: every template rendered inside shares it."""
    current = _active.get()
    if current is not None:
        yield current
        return
    budget = Budget()
    token = _active.set(budget)
    try:
        yield budget
    finally:
        _active.reset(token)


@contextlib.contextmanager
def nested() -> Iterator[None]:
    """One level deeper into macros calling macros."""
    budget = _active.get()
    if budget is None:
        yield
        return
    if budget.depth >= DEPTH_LIMIT:
        raise exceeded(f"macros call each other more than {DEPTH_LIMIT} deep")
    budget.depth += 1
    try:
        yield
    finally:
        budget.depth -= 1


def spend() -> None:
    """One step of the active budget (none outside rendering: compiling folds constants)."""
    budget = _active.get()
    if budget is not None:
        budget.spend()


def check_size(value: Any) -> None:
    """RenderBudgetExceeded for a value bigger than any message needs."""
    if isinstance(value, int):
        if value.bit_length() > INT_BITS_LIMIT:
            raise exceeded(f"a number over {INT_BITS_LIMIT:,} bits")
        return
    check_length(weight(value))


def weight(value: Any) -> int:
    """Characters and items a value holds, counting shared parts each time they appear.

    A list of the same list twice, nested forty times, is small in memory but not once
    printed; the count stops as soon as it passes the limit, so it costs little either way.
    """
    total = 0
    stack = [value]
    while stack and total <= VALUE_LIMIT:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += 1 + len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += 1 + len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += 1
    return total


def check_length(length: int) -> None:
    if length > VALUE_LIMIT:
        raise exceeded(f"a value of {length:,} characters or items (at most {VALUE_LIMIT:,})")


def check_width(width: Any) -> None:
    if isinstance(width, int) and abs(width) > WIDTH_LIMIT:
        raise exceeded(f"a width of {width:,} (at most {WIDTH_LIMIT:,})")


def exceeded(reason: str) -> errors.RenderBudgetExceeded:
    return errors.RenderBudgetExceeded(f"over the rendering budget: {reason}")
