"""What history costs a new run, and what `bulletin db prune` costs to remove it.

On a fresh database of BULLETIN_DATABASE_URL's server (else an embedded PostgreSQL), with
the sandbox unlimited in another process (a null sender: it answers at once, no pacing):

(b) --deliveries historical deliveries (20 done runs of --deliveries/20 chats over as
    many days, 1 delivery event per 50 deliveries), in INSERT … SELECT generate_series;
(a, c) `bulletin run` of a new --messages campaign, --rounds times on an empty database
    and on the one with history, interleaved: msgs/s, the ratio of the medians (goal
    within 10 %), and n_dead_tup / autovacuums of `deliveries` during each run with
    history (pg_stat_user_tables, sampled every 0.5 s);
(d) `campaign status` of a running run of --deliveries/20 chats: median and p95 of the
    use case's reads (goal ≤ 100 ms), and of a pruned run's;
(e) `bulletin db prune` of the 20 historical runs: seconds (and of its --dry-run), the
    dead tuples it leaves, then (f) a third run's msgs/s after the prune.
Prints figures; asserts nothing.
Usage: python bench/history.py [--messages 20000] [--deliveries 1000000] [--rounds 3]
                               [--reads 20]
       (the issue's scale: --deliveries 10000000; a 1M run: --messages 1000000)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from common import (
    FIRST_CHAT_ID,
    Measured,
    SandboxProcess,
    cli,
    environment,
    measure,
    sandbox,
    span_rate,
)

RUNS = 20
BOT = "bench"
HISTORY_CHATS = FIRST_CHAT_ID + 10**9  # far from the sandbox's chats


async def unpace(url: str) -> None:
    """Lift the bot's pace far above anything reachable: only bookkeeping limits a run."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("UPDATE bots SET rate_per_s = 1000000")
    finally:
        await connection.close()


async def fill(url: str, deliveries: int) -> None:
    """RUNS done runs of campaign `old` (the same bot) with deliveries // RUNS each, over
    as many past days, to chats that have unsubscribed since (so no new run reaches them)."""
    per_run = deliveries // RUNS
    connection = await asyncpg.connect(url)
    try:
        bot_id = await connection.fetchval("SELECT id FROM bots WHERE name = $1", BOT)
        await connection.execute(
            """INSERT INTO subscribers (bot_id, chat_id, first_name, language_code, status)
               SELECT $1, $2 + n, 'Person ' || n, 'en', 'unsubscribed'
                 FROM generate_series(0, $3 - 1) AS n""",
            bot_id, HISTORY_CHATS, per_run,
        )  # fmt: skip
        campaign_id, variant_id = await connection.fetchrow(
            """SELECT c.id, v.id FROM campaigns c JOIN variants v ON v.campaign_id = c.id
                WHERE c.name = 'old'"""
        )
        await connection.execute(
            """INSERT INTO runs (campaign_id, number, status, audience, started_at, finished_at,
                                 logged_status)
               SELECT $1, n, 'done', $2, now() - (($3 - n + 2) || ' days')::interval,
                      now() - (($3 - n + 2) || ' days')::interval + interval '1 hour', 'done'
                 FROM generate_series(1, $3) AS n""",
            campaign_id, per_run, RUNS,
        )  # fmt: skip
        # Most sent, some blocked or gone, as a large audience has them.
        await connection.execute(
            """INSERT INTO deliveries (run_id, bot_id, subscriber_id, chat_id, variant_id,
                                       status, attempts, failure, error, message_id, sent_at,
                                       updated_at)
               SELECT r.id, $1, s.id, s.chat_id, $2,
                      CASE WHEN s.n % 20 < 18 THEN 'sent' ELSE 'failed' END, 1,
                      CASE s.n % 20 WHEN 18 THEN 'blocked' WHEN 19 THEN 'gone' END,
                      CASE s.n % 20 WHEN 18 THEN 'Forbidden: bot was blocked by the user'
                                    WHEN 19 THEN 'Bad Request: chat not found' END,
                      CASE WHEN s.n % 20 < 18 THEN s.n END,
                      r.started_at + (s.n % 3600) * interval '1 second',
                      r.started_at + (s.n % 3600) * interval '1 second'
                 FROM runs r
                 CROSS JOIN (SELECT id, chat_id, row_number() OVER (ORDER BY id) AS n
                               FROM subscribers WHERE bot_id = $1 AND chat_id >= $3) s
                WHERE r.campaign_id = $4""",
            bot_id, variant_id, HISTORY_CHATS, campaign_id,
        )  # fmt: skip
        await connection.execute(
            """INSERT INTO events (at, kind, bot_id, run_id, chat_id, detail)
               SELECT d.updated_at, 'delivery.retry', d.bot_id, d.run_id, d.chat_id, 'timeout'
                 FROM deliveries d JOIN runs r ON r.id = d.run_id
                WHERE r.campaign_id = $1 AND d.id % 50 = 0""",
            campaign_id,
        )
        await connection.execute("UPDATE campaigns SET status = 'done' WHERE id = $1", campaign_id)
        await connection.execute("VACUUM ANALYZE deliveries")
        await connection.execute("VACUUM ANALYZE events")
    finally:
        await connection.close()


class Watcher:
    """Samples pg_stat_user_tables for `deliveries` every 0.5 s in a thread while a run goes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._watch()))

    async def _watch(self) -> None:
        connection = await asyncpg.connect(self.url)
        try:
            while True:
                self.samples.append(await table_stats(connection))
                if self.stop.wait(0.5):
                    self.samples.append(await table_stats(connection))
                    return
        finally:
            await connection.close()

    def __enter__(self) -> Watcher:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()

    def summary(self) -> str:
        first, last = self.samples[0], self.samples[-1]
        peak = max(sample["n_dead_tup"] for sample in self.samples)
        vacuums = last["autovacuum_count"] - first["autovacuum_count"]
        return (
            f"n_dead_tup peak {peak:,}, at the end {last['n_dead_tup']:,}; "
            f"{vacuums} autovacuum(s) during the run (last_autovacuum {last['last_autovacuum']})"
        )


async def table_stats(connection: asyncpg.Connection[Any]) -> dict[str, Any]:
    row = await connection.fetchrow(
        """SELECT n_live_tup, n_dead_tup, last_autovacuum, autovacuum_count,
                  pg_total_relation_size(relid) AS bytes
             FROM pg_stat_user_tables WHERE relname = 'deliveries'"""
    )
    assert row is not None
    return dict(row)


def stats_now(url: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        connection = await asyncpg.connect(url)
        try:
            return await table_stats(connection)
        finally:
            await connection.close()

    return asyncio.run(go())


async def status_reads(url: str, campaign: str, number: int, reads: int) -> list[float]:
    """Milliseconds of each `campaign status` read, as its use case makes it (the CLI's
    own start-up left out): the run, then its tallies."""
    from bulletin.db import campaigns as campaign_rows
    from bulletin.db import runs as run_rows

    connection = await asyncpg.connect(url)
    try:
        taken = []
        for _ in range(reads):
            began = time.perf_counter()
            found = await campaign_rows.find(connection, campaign)
            run = await run_rows.by_number(connection, found, number)
            await run_rows.tallies(connection, run)
            taken.append((time.perf_counter() - began) * 1000)
        return taken
    finally:
        await connection.close()


async def history_status(url: str, status: str) -> None:
    """The history's chats subscribed (for a large running run) or not (so that the
    sandbox's chats are the whole audience of a measured run)."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "UPDATE subscribers SET status = $2 WHERE chat_id >= $1", HISTORY_CHATS, status
        )
        await connection.execute("VACUUM ANALYZE subscribers")
    finally:
        await connection.close()


def delivered(env: dict[str, str], box: SandboxProcess, name: str) -> tuple[float, Measured]:
    """`bulletin run` of a new campaign `name`: msgs/s between its first and last send."""
    cli(env, "campaign", "create", name, "--bot", BOT, "--text", "Benchmark message")
    seen = len(box.ledger())
    run = measure(env, "run", name, "--quiet")
    return span_rate(box.ledger()[seen:])[0], run


def shown(label: str, taken: list[float]) -> str:
    p95 = statistics.quantiles(taken, n=20)[-1] if len(taken) > 1 else taken[0]
    return f"{label:<46} median {statistics.median(taken):8.1f} ms   p95 {p95:8.1f} ms"


@contextlib.contextmanager
def second_database(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The same environment on another fresh database of the same server: the baseline."""
    url = urlsplit(env["BULLETIN_DATABASE_URL"])
    name = url.path.lstrip("/") + "_empty"

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(env["BULLETIN_DATABASE_URL"])
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield {**env, "BULLETIN_DATABASE_URL": urlunsplit(url._replace(path="/" + name))}
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def prepare(env: dict[str, str], box: SandboxProcess) -> None:
    cli(env, "init")
    cli(env, "bot", "add", box.tokens[0], "--name", BOT, "--api-url", box.url)
    asyncio.run(unpace(env["BULLETIN_DATABASE_URL"]))
    cli(env, "audience", "import", str(box.audience), "--bot", BOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="runs on each database, interleaved")
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=64)
    options = parser.parse_args()
    per_run = options.deliveries // RUNS
    sandbox_args = ["--users", str(options.messages), "--blocked", "0", "--gone", "0"]
    with (
        tempfile.TemporaryDirectory() as folder,
        environment(require_url=True) as env,
        second_database(env) as bare,
        sandbox(Path(folder), *sandbox_args, "--unlimited") as box,
    ):
        url = env["BULLETIN_DATABASE_URL"]
        for each in (env, bare):
            each["BULLETIN_WORKER__MAX_IN_FLIGHT"] = str(options.concurrency)
            prepare(each, box)
        cli(env, "campaign", "create", "old", "--bot", BOT, "--text", "Old news")

        began = time.perf_counter()
        asyncio.run(fill(url, options.deliveries))
        filled = stats_now(url)
        print(
            f"(b) {RUNS} done runs of {per_run:,} = {options.deliveries:,} deliveries filled in "
            f"{time.perf_counter() - began:.0f} s ({filled['bytes'] / 2**20:,.0f} MB with indexes)"
        )
        empty, full, watched = [], [], []
        for round_number in range(options.rounds):  # interleaved: drift hits both sides
            empty.append(delivered(bare, box, f"empty{round_number}")[0])
            with Watcher(url) as watcher:
                full.append(delivered(env, box, f"full{round_number}")[0])
            watched.append(watcher)
        print(f"(a) run of {options.messages:,}, empty database   {_rates(empty)}")
        print(f"(c) run of {options.messages:,}, with history     {_rates(full)}")
        ratio = statistics.median(full) / statistics.median(empty)
        print(f"    with history ÷ empty: {ratio:.3f} (goal ≥ 0.90)")
        for round_number, watcher in enumerate(watched):
            print(f"    deliveries during run full{round_number}: {watcher.summary()}")

        asyncio.run(history_status(url, "subscribed"))
        cli(env, "campaign", "create", "big", "--bot", BOT, "--text", "Big news")
        began = time.perf_counter()
        cli(env, "campaign", "start", "big")  # no serve: it stays running, all pending
        print(
            f"(d) campaign start big: {per_run + options.messages:,} deliveries snapshotted in "
            f"{time.perf_counter() - began:.1f} s (CLI start-up included)"
        )
        running = asyncio.run(status_reads(url, "big", 1, options.reads))
        print(shown("    status of the running run (counted)", running))
        cli(env, "campaign", "cancel", "big")
        asyncio.run(history_status(url, "unsubscribed"))

        cutoff = (datetime.now(UTC) - timedelta(hours=6)).isoformat()
        dry = measure(env, "db", "prune", "--finished-before", cutoff, "--dry-run")
        print(f"(e) db prune --dry-run                     {dry.seconds:6.1f} s")
        pruned = measure(env, "db", "prune", "--finished-before", cutoff, "--yes")
        after = stats_now(url)
        print(
            f"    db prune of {RUNS} runs                  {pruned.seconds:6.1f} s   "
            f"({options.deliveries / pruned.seconds:,.0f} deliveries/s; peak RSS "
            f"{pruned.peak_rss_mb:.0f} MB)"
        )
        print(f"    {pruned.stdout.strip().splitlines()[-1]}")
        print(
            f"    deliveries after it: n_live_tup {after['n_live_tup']:,}, n_dead_tup "
            f"{after['n_dead_tup']:,}, {after['bytes'] / 2**20:,.0f} MB "
            f"(space reused by new rows; VACUUM FULL gives it back)"
        )
        kept = asyncio.run(status_reads(url, "old", RUNS, options.reads))
        print(shown("    status of a pruned run (kept tallies)", kept))

        baseline = delivered(bare, box, "empty_last")[0]
        later = delivered(env, box, "after")[0]
        print(
            f"(f) run of {options.messages:,} after the prune: {later:,.0f} msgs/s, "
            f"empty database just before: {baseline:,.0f} msgs/s, ratio {later / baseline:.3f}"
        )
    print("goals: a run with history within 10 % of one without; status ≤ 100 ms")


def _rates(rates: list[float]) -> str:
    listed = ", ".join(f"{rate:,.0f}" for rate in rates)
    return f"median {statistics.median(rates):8,.0f} msgs/s (of {listed})"


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
