"""`serve --workers N`: keep N worker processes alive, restart crashed ones with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# A worker exits with this code when restarting it cannot help (every bot it could
# serve is revoked, the schema is newer than the code): the supervisor does not loop.
GAVE_UP_EXIT_CODE = 3


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    healthy_after_s: float = 30.0  # a worker up this long resets the backoff
    drain_timeout_s: float = 9.0  # SIGTERM to SIGKILL, inside the 10 s promised to operators


@dataclass
class Slot:
    """One worker process position: its current process and restart history."""

    number: int
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    delay_s: float = 0.0
    gave_up: str | None = None
    last_lines: list[str] = field(default_factory=list)


class Supervisor:
    """Runs `command` N times; SIGTERM to the supervisor drains every worker."""

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        workers: int,
        policy: RestartPolicy = RestartPolicy(),
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        self._on_exit = on_exit  # called with a worker's pid once it has exited
        self._command = list(command)
        self._env = dict(env)
        self._policy = policy
        self.slots = [Slot(number) for number in range(1, workers + 1)]

    def pids(self) -> list[int]:
        return [s.process.pid for s in self.slots if s.process and s.process.returncode is None]

    async def run(self, stop: asyncio.Event) -> list[str]:
        """Supervise until stop is set or every slot gave up; return why slots gave up."""
        async with asyncio.TaskGroup() as group:
            for slot in self.slots:
                group.create_task(self._keep_alive(slot, stop))
        return [slot.gave_up for slot in self.slots if slot.gave_up]

    async def _keep_alive(self, slot: Slot, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            code = await self._run_once(slot, stop)
            if stop.is_set():
                return
            if code == GAVE_UP_EXIT_CODE:
                slot.gave_up = f"worker {slot.number} gave up: {_last(slot.last_lines)}"
                log.error("action=worker_gave_up slot=%d reason=%s", slot.number, slot.gave_up)
                return
            slot.delay_s = self._next_delay(slot.delay_s, time.monotonic() - started)
            slot.restarts += 1
            log.warning(
                "action=worker_restart slot=%d exit_code=%s delay_s=%.1f",
                slot.number,
                code,
                slot.delay_s,
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(slot.delay_s):
                    await stop.wait()

    def _next_delay(self, previous_s: float, ran_s: float) -> float:
        if ran_s >= self._policy.healthy_after_s or previous_s == 0:
            return self._policy.backoff_base_s
        return min(self._policy.backoff_cap_s, previous_s * 2)

    async def _run_once(self, slot: Slot, stop: asyncio.Event) -> int:
        slot.process = await asyncio.create_subprocess_exec(
            *self._command, env=self._env, stdin=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        log.info("action=worker_started slot=%d pid=%d", slot.number, slot.process.pid)
        forwarding = asyncio.create_task(self._forward_stderr(slot, slot.process))
        exited = asyncio.create_task(slot.process.wait())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not exited.done():
            await self._drain(slot.process)
        code = await exited
        await forwarding
        if self._on_exit is not None:
            self._on_exit(slot.process.pid)
        return code

    async def _drain(self, process: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(self._policy.drain_timeout_s):
                await process.wait()
        except TimeoutError:
            log.error("action=worker_killed pid=%d reason=drain_timeout", process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    @staticmethod
    async def _forward_stderr(slot: Slot, process: asyncio.subprocess.Process) -> None:
        """Pass the worker's log lines through, remembering the last ones for a give-up reason."""
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            sys.stderr.write(f"[worker {slot.number}] {line}\n")
            slot.last_lines = [*slot.last_lines[-4:], line]


def _last(lines: list[str]) -> str:
    meaningful = [line for line in lines if line.strip()]
    return meaningful[-1].removeprefix("error: ") if meaningful else "no reason given"
