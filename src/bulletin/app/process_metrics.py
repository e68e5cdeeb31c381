"""What each process measures as it works (sends, 429s, pace, listener updates) for /metrics.

With `serve --workers N` every process writes its figures into one private directory
(prometheus_client's multiprocess mode, chosen by PROMETHEUS_MULTIPROC_DIR, which the
supervisor sets before any worker starts); the process that serves /metrics reads them all.
A single-process `serve` keeps them in memory. Labels are bot names and update kinds only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

# prometheus_client is imported only once a metric is made or read: it picks its storage
# (memory, or the shared directory) at import, after the supervisor has set the variable.

log = logging.getLogger(__name__)

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
# One Bot API call: tens of milliseconds near Telegram, seconds through a slow proxy.
SEND_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ProcessMetrics:
    """The engine's Observer and the listener's UpdateObserver, as Prometheus metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.registry = registry
        self.send_duration = Histogram(
            "bulletin_send_duration_seconds",
            "Time of one Bot API send call, by bot",
            ["bot"],
            buckets=SEND_BUCKETS_S,
            registry=registry,
        )
        self.flood_wait = Counter(
            "bulletin_flood_wait_seconds",
            "Seconds a bot's sends were held by 429 answers' retry_after, by bot",
            ["bot"],
            registry=registry,
        )
        # livesum: a bot is sent through by one process at a time; the others report 0,
        # and a dead process's figures leave with it.
        self.pace = Gauge(
            "bulletin_pace_messages_per_second",
            "A bot's current pace (slower for a while after a 429), by bot",
            ["bot"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.pace_limit = Gauge(
            "bulletin_pace_limit_messages_per_second",
            "The rate a bot's pace is configured to (and recovers to), by bot",
            ["bot"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.updates = Counter(
            "bulletin_listener_updates",
            "Updates the listener received, by bot and kind",
            ["bot", "kind"],
            registry=registry,
        )

    def send_answered(self, bot: str, duration_s: float) -> None:
        self.send_duration.labels(bot).observe(duration_s)

    def rate_limited(self, bot: str, paused_s: float) -> None:
        self.flood_wait.labels(bot).inc(paused_s)

    def paced(self, bot: str, rate_per_s: float, limit_per_s: float) -> None:
        self.pace.labels(bot).set(rate_per_s)
        self.pace_limit.labels(bot).set(limit_per_s)

    def update_received(self, bot: str, kind: str) -> None:
        self.updates.labels(bot, kind).inc()


_metrics: ProcessMetrics | None = None


def observer() -> ProcessMetrics:
    """This process's metrics, made on first use."""
    global _metrics
    if _metrics is None:
        from prometheus_client import CollectorRegistry

        _metrics = ProcessMetrics(CollectorRegistry(auto_describe=True))
    return _metrics


def add_to(registry: CollectorRegistry) -> None:
    """Add every process's figures to a scrape's registry (this one's alone, unless shared)."""
    directory = os.environ.get(MULTIPROCESS_DIRECTORY)
    if directory:
        from prometheus_client.multiprocess import MultiProcessCollector

        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(observer().registry)


@contextlib.contextmanager
def shared_across_processes() -> Iterator[dict[str, str]]:
    """A fresh private directory (0700) the processes started inside write their figures to,
    removed at the end; yields the environment variable that points them at it."""
    directory = tempfile.mkdtemp(prefix="bulletin-metrics-")
    previous = os.environ.get(MULTIPROCESS_DIRECTORY)
    # This process counts there too (its listener's updates) unless prometheus_client was
    # loaded before: then its own figures would be missing from the scrape, so say so.
    loaded = sys.modules.get("prometheus_client.values")
    if loaded is not None and not getattr(loaded.ValueClass, "_multiprocess", False):
        log.warning("action=metrics_not_shared reason=prometheus_client_loaded_first")
    os.environ[MULTIPROCESS_DIRECTORY] = directory
    try:
        yield {MULTIPROCESS_DIRECTORY: directory}
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_DIRECTORY, None)
        else:
            os.environ[MULTIPROCESS_DIRECTORY] = previous
        shutil.rmtree(directory, ignore_errors=True)


def process_exited(pid: int) -> None:
    """A worker process ended: its gauges leave the scrape (its counters stay)."""
    directory = os.environ.get(MULTIPROCESS_DIRECTORY)
    if directory:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
