"""Seeded faults: server errors, slow answers, and messages recorded before a failed answer."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fault:
    """What goes wrong with one request."""

    error_status: int | None = None
    slow_s: float = 0.0
    record_then_fail: bool = False


@dataclass
class Faults:
    """Fault rates; draws are deterministic given the seed and the order of requests."""

    error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_s: float = 0.0
    record_then_fail_rate: float = 0.0
    seed: int = 0
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._random = random.Random(f"faults:{self.seed}")

    def draw(self) -> Fault:
        """Decide the fault of the next request; always draws the same count of numbers."""
        error_roll, status_roll, slow_roll, record_roll = (self._random.random() for _ in range(4))
        slow_s = self.slow_s if slow_roll < self.slow_rate else 0.0
        if error_roll < self.error_rate:
            return Fault(error_status=500 if status_roll < 0.5 else 502, slow_s=slow_s)
        if record_roll < self.record_then_fail_rate:
            return Fault(error_status=500, slow_s=slow_s, record_then_fail=True)
        return Fault(slow_s=slow_s)

    def as_dict(self) -> dict[str, object]:
        """Return the rates as JSON for the control API."""
        return {
            "error_rate": self.error_rate,
            "slow_rate": self.slow_rate,
            "slow_s": self.slow_s,
            "record_then_fail_rate": self.record_then_fail_rate,
            "seed": self.seed,
        }
