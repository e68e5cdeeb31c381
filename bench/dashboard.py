"""How long the dashboard's pages take with a large database behind them.

Fills a database with --subscribers subscribers (1,000,000 by default) and runs of one
campaign holding --deliveries deliveries (10,000,000): 20 finished runs, one a day, and one
run sending now, half of it sent (all INSERT … SELECT generate_series, then VACUUM ANALYZE
as autovacuum would). Starts a real `bulletin serve`, signs in with an admin token through
the login form, and times ~20 requests of the overview (/), the running run's page and its
live fragment (what the page polls every 2 s), and for the record the Bots page's live
fragment, the Audience and Activity pages. Prints the median and p95 of each, as seen
by an HTTP client on the same machine (so: server time plus a loopback round trip); with
--queries, also the time of the SQL those pages run. Goal: ≤ 200 ms each. Asserts nothing.
Usage: python bench/dashboard.py [--subscribers N] [--deliveries N] [--requests N] [--queries]
(set BULLETIN_DATABASE_URL to use a PostgreSQL server instead of the embedded one).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import time
from collections.abc import Callable

import asyncpg
import httpx
from common import BULLETIN, cli, environment, register_bot

BOT_ID = 7_100_000_001  # register_bot's id for number 1
FINISHED_RUNS = 20
STARTED = re.compile(r"HTTP API on (http://\S+)/api/v1 ")

FILL = {
    "subscribers": """
        INSERT INTO subscribers (id, bot_id, chat_id, first_name, status, source, created_at)
        SELECT n, $1, 200000000 + n, 'Person ' || n,
               CASE WHEN n % 40 = 0 THEN 'blocked' ELSE 'subscribed' END,
               (ARRAY['import', 'start', 'spring', 'ads'])[1 + n % 4],
               now() - (n % 30) * interval '1 day'
          FROM generate_series(1, $2::bigint) AS n""",
    # One finished run a day: every delivery settled, 4 % failed (blocked or gone).
    "finished": """
        INSERT INTO deliveries (run_id, bot_id, subscriber_id, chat_id, variant_id, status,
                                failure, error, attempts, message_id, sent_at, due_at,
                                updated_at)
        SELECT $1, $2, n, 200000000 + n, $3,
               CASE WHEN n % 25 = 0 THEN 'failed' ELSE 'sent' END,
               CASE WHEN n % 50 = 0 THEN 'blocked' WHEN n % 25 = 0 THEN 'gone' END,
               CASE WHEN n % 50 = 0 THEN 'Forbidden: bot was blocked by the user'
                    WHEN n % 25 = 0 THEN 'Bad Request: chat not found' END,
               1, CASE WHEN n % 25 <> 0 THEN n END,
               CASE WHEN n % 25 <> 0 THEN $4::timestamptz + n * $5::float8 * interval '1 second' END,
               $4::timestamptz, $4::timestamptz + n * $5::float8 * interval '1 second'
          FROM generate_series(1, $6::bigint) AS n""",
    # The running run: its first half sent over the last hour up to now, the rest pending
    # and due tomorrow, so serve's worker claims none of it while the pages are timed.
    "running": """
        INSERT INTO deliveries (run_id, bot_id, subscriber_id, chat_id, variant_id, status,
                                failure, error, attempts, message_id, sent_at, due_at,
                                updated_at)
        SELECT $1, $2, n, 200000000 + n, $3,
               CASE WHEN n > $5::bigint THEN 'pending' WHEN n % 25 = 0 THEN 'failed' ELSE 'sent' END,
               CASE WHEN n <= $5 AND n % 50 = 0 THEN 'blocked'
                    WHEN n <= $5 AND n % 25 = 0 THEN 'gone' END,
               NULL, CASE WHEN n > $5 THEN 0 ELSE 1 END,
               CASE WHEN n <= $5 AND n % 25 <> 0 THEN n END,
               CASE WHEN n <= $5 AND n % 25 <> 0
                    THEN now() - ($5 - n) * 3600.0 / $5 * interval '1 second' END,
               CASE WHEN n > $5 THEN now() + interval '1 day' ELSE now() END,
               now()
          FROM generate_series(1, $4::bigint) AS n""",
    # Some retries per run, as a real run has: campaign status counts them.
    "retries": """
        INSERT INTO events (at, kind, bot_id, run_id, chat_id, detail)
        SELECT now(), 'delivery.retry', $2, $1, 200000000 + n, 'Bad Gateway'
          FROM generate_series(1, $3::bigint) AS n""",
}


async def fill(url: str, subscribers: int, per_run: int) -> int:
    """Subscribers, 20 finished runs and a running one; the running run's number."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET synchronous_commit = off")
        await connection.execute(FILL["subscribers"], BOT_ID, subscribers)
        await connection.execute(
            "SELECT setval('subscribers_id_seq', (SELECT max(id) FROM subscribers))"
        )
        campaign_id, variant_id = await connection.fetchrow(
            "SELECT c.id, v.id FROM campaigns c JOIN variants v ON v.campaign_id = c.id"
        )
        for number in range(1, FINISHED_RUNS + 2):
            running = number == FINISHED_RUNS + 1
            days_ago = FINISHED_RUNS + 1 - number
            run_id = await connection.fetchval(
                """INSERT INTO runs (campaign_id, number, status, audience, started_at,
                                     finished_at, logged_status)
                   VALUES ($1, $2, $3, $4, now() - $5 * interval '1 day' - interval '1 hour',
                           CASE WHEN $3 = 'done' THEN now() - $5 * interval '1 day' END, $3)
                   RETURNING id""",
                campaign_id,
                number,
                "running" if running else "done",
                per_run,
                days_ago,
            )
            if running:
                await connection.execute(
                    FILL["running"], run_id, BOT_ID, variant_id, per_run, per_run // 2
                )
            else:
                started = await connection.fetchval(
                    "SELECT started_at FROM runs WHERE id = $1", run_id
                )
                await connection.execute(
                    FILL["finished"], run_id, BOT_ID, variant_id, started, 3600 / per_run, per_run
                )
            await connection.execute(FILL["retries"], run_id, BOT_ID, per_run // 100)
            print(f"  run {number}: {per_run:,} deliveries", flush=True)
        await connection.execute(
            "UPDATE campaigns SET status = 'active' WHERE id = $1", campaign_id
        )
        for table in ("subscribers", "deliveries", "events", "runs"):
            await connection.execute(f"VACUUM ANALYZE {table}")
        return FINISHED_RUNS + 1
    finally:
        await connection.close()


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`bulletin serve` with its HTTP server; where it answers."""
    process = subprocess.Popen(
        [*BULLETIN, "serve"],
        env={**env, "BULLETIN_WEB__LISTEN": "127.0.0.1:0", "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    while True:
        line = process.stderr.readline()
        if not line:
            raise SystemExit(f"serve exited {process.wait()}")
        found = STARTED.search(line)
        if found:
            return process, found[1]


def timed(call: Callable[[], object], count: int) -> list[float]:
    """Milliseconds of each of `count` calls, after two to warm up."""
    for _ in range(2):
        call()
    found = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        found.append((time.perf_counter() - began) * 1000)
    return found


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def row(name: str, values: list[float]) -> str:
    return f"{name:<44} {statistics.median(values):>8.1f} {p95(values):>8.1f}"


def pages(url: str, token: str, number: int, count: int) -> list[str]:
    with httpx.Client(base_url=url, timeout=60) as browser:
        signed = browser.post("/login", data={"token": token, "next": "/"}, follow_redirects=True)
        if signed.status_code != 200 or "Sign out" not in signed.text:
            raise SystemExit(f"signing in failed: {signed.status_code}")

        def get(path: str) -> Callable[[], object]:
            def call() -> object:
                answer = browser.get(path)
                if answer.status_code != 200:
                    raise SystemExit(f"GET {path}: {answer.status_code} {answer.text[:200]}")
                return answer

            return call

        run = f"/campaigns/digest/runs/{number}"
        goals = [row(f"GET {path}", timed(get(path), count)) for path in ("/", run, f"{run}/live")]
        # The other pages, for the record (no goal set): the Bots page polls every 2 s.
        others = ("/fragments/bots", "/audience", "/activity", f"{run}/throughput.json")
        return [*goals, "other pages:", *(row(f"GET {p}", timed(get(p), count)) for p in others)]


async def queries(url: str, number: int, count: int) -> list[str]:
    """The SQL behind those pages, each timed alone (the named blocks of queries.sql)."""
    from bulletin.db.queries import sql

    connection = await asyncpg.connect(url)
    try:
        run_id = await connection.fetchval("SELECT id FROM runs WHERE number = $1", number)
        calls = {
            "run_counts (campaign status)": (sql("run_counts"), run_id),
            "dashboard_variant_results": (sql("dashboard_variant_results"), run_id),
            "dashboard_run_errors": (sql("dashboard_run_errors"), run_id, 20),
            "dashboard_throughput (10 s buckets)": (sql("dashboard_throughput"), run_id, 10),
            "dashboard_recent_sends": (sql("dashboard_recent_sends"), [run_id], 10.0),
            "dashboard_runs": (sql("dashboard_runs"), 86400.0, 20),
            "dashboard_bot_health": (sql("dashboard_bot_health"),),
        }
        found = []
        for name, (text, *args) in calls.items():
            values = []
            for attempt in range(count + 2):
                began = time.perf_counter()
                await connection.fetch(text, *args)
                if attempt >= 2:
                    values.append((time.perf_counter() - began) * 1000)
            found.append(row(f"  {name}", values))
        return found
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--queries", action="store_true", help="also time the SQL alone")
    options = parser.parse_args()
    per_run = min(options.subscribers, options.deliveries // FINISHED_RUNS)
    with environment(require_url=True) as env:
        cli(env, "init")
        register_bot(env, "bench", 1)
        cli(env, "campaign", "create", "digest", "--bot", "bench", "--text", "Hello!")
        url = env["BULLETIN_DATABASE_URL"]
        began = time.monotonic()
        number = asyncio.run(fill(url, options.subscribers, per_run))
        total = per_run * (FINISHED_RUNS + 1)
        print(
            f"filled in {time.monotonic() - began:.0f} s: {options.subscribers:,} subscribers, "
            f"{total:,} deliveries ({FINISHED_RUNS} finished runs and one running, "
            f"{per_run:,} each, half of the running one sent)"
        )
        token = cli(env, "token", "create", "--role", "admin", "--name", "bench").strip()
        process, served = serve(env)
        try:
            lines = pages(served, token, number, options.requests)
        finally:
            process.terminate()
            process.wait(30)
        if options.queries:
            lines += ["SQL alone:", *asyncio.run(queries(url, number, options.requests))]
    print()
    print(f"{'(ms, ' + str(options.requests) + ' requests each)':<44} {'median':>8} {'p95':>8}")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
