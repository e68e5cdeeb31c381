"""Faults: deterministic draws from a seed."""

from __future__ import annotations

from bulletin.sandbox import Fault, Faults


def test_draw__same_seed__same_sequence() -> None:
    def sequence() -> list[Fault]:
        faults = Faults(error_rate=0.2, slow_rate=0.1, slow_s=1.0, record_then_fail_rate=0.1)
        return [faults.draw() for _ in range(200)]

    draws = sequence()
    assert draws == sequence()
    assert any(fault.error_status == 502 for fault in draws)
    assert any(fault.record_then_fail for fault in draws)
    assert any(fault.slow_s == 1.0 for fault in draws)


def test_draw__no_rates__no_fault() -> None:
    faults = Faults(seed=9)
    assert all(faults.draw() == Fault() for _ in range(100))
