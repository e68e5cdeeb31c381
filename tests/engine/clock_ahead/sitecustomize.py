"""Imported by Python at start-up when this folder is on PYTHONPATH: the process's wall clock
runs BULLETIN_TEST_CLOCK_SHIFT_S seconds ahead of the host's (the database's), as a worker
on a machine whose clock drifted would see it. Monotonic time is left alone."""

from __future__ import annotations

import datetime
import os
import time
from typing import Any

SHIFT_S = float(os.environ.get("BULLETIN_TEST_CLOCK_SHIFT_S", "300"))
_real_datetime = datetime.datetime
_real_time = time.time
_real_time_ns = time.time_ns


class _AnyDatetime(type):
    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, _real_datetime)


class _Shifted(_real_datetime, metaclass=_AnyDatetime):
    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return _real_datetime.now(tz) + datetime.timedelta(seconds=SHIFT_S)

    @classmethod
    def utcnow(cls) -> Any:
        return _real_datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(
            seconds=SHIFT_S
        )


def _time() -> float:
    return _real_time() + SHIFT_S


def _time_ns() -> int:
    return _real_time_ns() + int(SHIFT_S * 1e9)


datetime.datetime = _Shifted  # type: ignore[misc]
time.time = _time
time.time_ns = _time_ns
