"""How fast the CLI starts, and how much memory an idle `serve` holds (issue 12, goal 5).

Prepares a database with a bot on a sandbox, an audience and a campaign; then, for a few
commands, prints the median wall time over --runs runs next to `python -c pass` measured in
the same run (the ratio says how many interpreter starts a command costs). Then starts
`serve` (one process, with and without its HTTP server) and `serve --workers 2`, waits until
each worker announces itself, and prints the resident memory of the idle process(es).
With --baseline-rev REV the same commands also run from a clean checkout of REV (exported
into a temporary folder and put first on PYTHONPATH), interleaved with this checkout's runs,
so both columns share the machine's load. Asserts nothing; goals: a command that does not
talk to Telegram ≤ 0.5 s, one that does ≤ 1 s, an idle worker ≤ 80 MB.
Usage: python bench/startup.py [--runs N] [--baseline-rev main]
(set BULLETIN_DATABASE_URL to use a PostgreSQL server instead of the embedded one).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from common import BULLETIN, cli, environment, prepare_campaign, sandbox

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Checkout:
    """Where bulletin's code comes from: this worktree, or an exported revision."""

    label: str
    source: Path | None = None  # a src/ folder put first on PYTHONPATH; None: as installed
    timings: dict[str, list[Timing]] = field(default_factory=dict)

    def env(self, env: dict[str, str]) -> dict[str, str]:
        if self.source is None:
            return env
        return {**env, "PYTHONPATH": os.pathsep.join([str(self.source), env.get("PYTHONPATH", "")])}


@contextlib.contextmanager
def exported(revision: str) -> Iterator[Path]:
    """The src/ folder of a clean export of revision (git archive), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bulletin-rev-") as folder:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision, "src"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        yield Path(folder) / "src"


@dataclass
class Timing:
    wall_s: float
    cpu_s: float  # user + system of the command's process: less sensitive to a busy machine


def timed(command: list[str], env: dict[str, str]) -> Timing:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    result = subprocess.run(command, env={**env, "COLUMNS": "200"}, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[3:])} failed: {result.stderr.strip()}")
    cpu_s = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Timing(elapsed, cpu_s)


def startup(
    checkouts: list[Checkout], runs: int, env: dict[str, str], box_url: str, tokens: list[str]
) -> None:
    token_of = iter(tokens)

    def bot_add() -> list[str]:
        return ["bot", "add", next(token_of), "--api-url", box_url]

    commands: list[tuple[str, Callable[[], list[str]]]] = [
        ("--help", lambda: ["--help"]),
        ("campaign list", lambda: ["campaign", "list"]),
        ("audience stats", lambda: ["audience", "stats"]),
        ("campaign check bench", lambda: ["campaign", "check", "bench"]),
        ("bot add TOKEN", bot_add),
    ]
    baseline = [sys.executable, "-c", "pass"]
    for checkout in checkouts:  # once untimed: bytecode written, caches warm
        for _, args in commands:
            timed([*BULLETIN, *args()], checkout.env(env))
    for _ in range(runs):
        for checkout in checkouts:
            checkout.timings.setdefault("python -c pass", []).append(timed(baseline, env))
            for label, args in commands:
                measured = timed([*BULLETIN, *args()], checkout.env(env))
                checkout.timings.setdefault(label, []).append(measured)
    python = statistics.median(
        t.wall_s for checkout in checkouts for t in checkout.timings["python -c pass"]
    )
    print(f"median over {runs} runs: wall s (× python -c pass, {python:.3f} s), CPU s")
    header = "".join(f"{c.label:>30}" for c in checkouts)
    print(f"{'command':<24}{header}")
    for label in checkouts[0].timings:
        cells = ""
        for checkout in checkouts:
            wall = statistics.median(t.wall_s for t in checkout.timings[label])
            cpu = statistics.median(t.cpu_s for t in checkout.timings[label])
            cells += f"{wall:>10.3f} s ({wall / python:>5.1f}×) {cpu:>6.3f} s"
        print(f"{label:<24}{cells}")


@dataclass
class Idle:
    serve_mb: float
    workers_mb: list[float]


def idle_rss(command: list[str], env: dict[str, str], workers: int, settle_s: float) -> Idle:
    """Start a serve command, wait for `workers` "serving as" lines, settle, read RSS."""
    import psutil

    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    ready = threading.Semaphore(0)
    lines: list[str] = []

    def follow() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "serving as" in line:
                ready.release()

    threading.Thread(target=follow, daemon=True).start()
    try:
        for _ in range(workers):
            if not ready.acquire(timeout=60):
                raise SystemExit(f"{' '.join(command[3:])} never served: {''.join(lines)}")
        time.sleep(settle_s)
        watched = psutil.Process(process.pid)
        children = watched.children()
        return Idle(
            watched.memory_info().rss / 2**20,
            [child.memory_info().rss / 2**20 for child in children],
        )
    finally:
        process.terminate()
        process.wait(20)


def memory(checkouts: list[Checkout], env: dict[str, str], settle_s: float) -> None:
    print()
    print(f"idle resident memory, MB ({settle_s:.0f} s after the worker announced itself)")
    header = "".join(f"{c.label:>30}" for c in checkouts)
    print(f"{'process':<40}{header}")
    rows: dict[str, list[str]] = {}
    for checkout in checkouts:
        child_env = checkout.env(env)
        alone = idle_rss([*BULLETIN, "serve", "--no-http"], child_env, 1, settle_s)
        web = idle_rss([*BULLETIN, "serve", "--http", "127.0.0.1:0"], child_env, 1, settle_s)
        supervised = idle_rss(
            [*BULLETIN, "serve", "--workers", "2", "--no-http"], child_env, 2, settle_s
        )
        rows.setdefault("serve --no-http", []).append(f"{alone.serve_mb:.0f}")
        rows.setdefault("serve --http 127.0.0.1:0", []).append(f"{web.serve_mb:.0f}")
        rows.setdefault("serve --workers 2: supervisor", []).append(f"{supervised.serve_mb:.0f}")
        each = ", ".join(f"{mb:.0f}" for mb in supervised.workers_mb)
        rows.setdefault("serve --workers 2: each worker", []).append(each)
    for label, cells in rows.items():
        print(f"{label:<40}" + "".join(f"{cell:>30}" for cell in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--settle-s", type=float, default=3.0)
    parser.add_argument("--baseline-rev", help="also measure this git revision, e.g. main")
    options = parser.parse_args()
    with contextlib.ExitStack() as stack:
        checkouts = [Checkout("this checkout")]
        if options.baseline_rev:
            source = stack.enter_context(exported(options.baseline_rev))
            checkouts.insert(0, Checkout(options.baseline_rev, source))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        env = stack.enter_context(environment())
        # As installed: modules load from bytecode (written outside the tree), whatever
        # PYTHONDONTWRITEBYTECODE this shell has.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        bots = (options.runs + 1) * len(checkouts) + 1  # bot add: a new token each time
        box = stack.enter_context(sandbox(folder, "--bots", str(bots)))
        prepare_campaign(env, box, "bench")
        cli(env, "campaign", "check", "bench")  # warm: the embedded server is up, caches are hot
        startup(checkouts, options.runs, env, box.url, box.tokens[1:])
        memory(checkouts, env, options.settle_s)


if __name__ == "__main__":
    main()
