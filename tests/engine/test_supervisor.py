"""The supervisor: restarts with backoff, gives up when told, drains on stop."""

from __future__ import annotations

import asyncio
import sys

from bulletin.engine.supervisor import RestartPolicy, Supervisor
from tests.support import eventually

FAST = RestartPolicy(backoff_base_s=0.05, backoff_cap_s=0.2, healthy_after_s=5, drain_timeout_s=2)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def test_supervisor__crashing_worker__restarted_with_growing_backoff() -> None:
    supervisor = Supervisor(python("import sys; sys.exit(1)"), {}, 1, FAST)
    stop = asyncio.Event()
    running = asyncio.create_task(supervisor.run(stop))
    slot = supervisor.slots[0]
    await eventually(lambda: slot.restarts >= 4)
    stop.set()
    assert await running == []
    assert slot.delay_s == FAST.backoff_cap_s


async def test_supervisor__worker_gives_up__not_restarted_and_reason_reported() -> None:
    code = "import sys; print('error: every bot is revoked (news)', file=sys.stderr); sys.exit(3)"
    supervisor = Supervisor(python(code), {}, 2, FAST)
    async with asyncio.timeout(30):
        gave_up = await supervisor.run(asyncio.Event())
    reason = "gave up: every bot is revoked (news)"
    assert gave_up == [f"worker 1 {reason}", f"worker 2 {reason}"]
    assert all(slot.restarts == 0 for slot in supervisor.slots)


async def test_supervisor__stop__workers_get_sigterm_and_drain() -> None:
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "print('ready', file=sys.stderr, flush=True)\n"
        "time.sleep(60)\n"
    )
    supervisor = Supervisor(python(code), {}, 3, FAST)
    stop = asyncio.Event()
    running = asyncio.create_task(supervisor.run(stop))
    await eventually(lambda: all(slot.last_lines == ["ready"] for slot in supervisor.slots))
    stop.set()
    async with asyncio.timeout(FAST.drain_timeout_s + 1):
        assert await running == []
    assert supervisor.pids() == []


async def test_supervisor__worker_ignores_sigterm__killed_after_drain_timeout() -> None:
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', file=sys.stderr, flush=True)\n"
        "time.sleep(60)\n"
    )
    supervisor = Supervisor(python(code), {}, 1, FAST)
    stop = asyncio.Event()
    running = asyncio.create_task(supervisor.run(stop))
    await eventually(lambda: supervisor.slots[0].last_lines == ["ready"])
    stop.set()
    async with asyncio.timeout(FAST.drain_timeout_s + 2):
        await running
    assert supervisor.pids() == []
