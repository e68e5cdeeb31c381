"""How fast the HTTP API takes subscribers, and how fast it answers with many deliveries.

Starts a real `bulletin serve` (its HTTP API on a free loopback port, an admin token) on a
fresh database of BULLETIN_DATABASE_URL's server (else an embedded PostgreSQL), then:

(a) upserts --subscribers new chats through POST /api/v1/bots/{name}/subscribers in
    batches of 1,000, by each number of --clients sending requests one after another, and
    prints subscribers/s; then the same batches again (every chat known, none changed). Request bodies are encoded before the
    clock starts: the figure is the server's, not the client's JSON encoder's.
(b) fills the tables with --deliveries deliveries (20 finished runs of one campaign over
    as many days, each to the same --deliveries/20 chats, and the daily rollups that
    match), in a few INSERT … SELECT generate_series statements, then prints the median
    and p95 latency of GET /api/v1/stats/daily and GET /api/v1/campaigns/{c}/runs/{n}
    over --requests requests each (the run's first read, which counts its deliveries once,
    is printed apart).
Prints figures; asserts nothing. Goals: ≥ 20,000 upserts/s; ≤ 50 ms for each answer.
Usage: python bench/api.py [--subscribers 100000] [--deliveries 10000000] [--requests 200]
                           [--clients 1 4]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import IO

import httpx
from common import BULLETIN, FIRST_CHAT_ID, cli, environment, register_bot

BATCH = 1000
RUNS = 20
BOT = "bench"
CAMPAIGN = "launch"
STARTED = re.compile(r"HTTP API on (http://\S+)/api/v1 ")
LANGUAGES = ("en", "de", "es")


@contextlib.contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """`bulletin serve` in its own process; the base URL its startup line names, once its
    API has answered a first request (which waits for the process to settle in)."""
    with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe nobody drains
        process = subprocess.Popen(
            [*BULLETIN, "serve"],
            env={**env, "BULLETIN_WEB__LISTEN": "127.0.0.1:0", "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        try:
            url = _announced(process, log)
            httpx.get(f"{url}/healthz", timeout=120).raise_for_status()
            yield url
        finally:
            process.terminate()
            process.wait(20)


def _announced(process: subprocess.Popen[str], log: IO[str]) -> str:
    while process.poll() is None:
        log.seek(0)
        found = STARTED.search(log.read())
        if found:
            return found[1]
        time.sleep(0.1)
    raise SystemExit("bulletin serve exited before its API answered")


def batches(count: int, first: int = FIRST_CHAT_ID) -> list[bytes]:
    """The upsert request bodies: batches of BATCH chats with tags and 2 custom fields."""
    bodies = []
    for start in range(0, count, BATCH):
        chunk = [
            {
                "chat_id": first + offset,
                "first_name": f"Person {offset}",
                "username": f"user{offset}",
                "language_code": LANGUAGES[offset % 3],
                "tags": ["news", ("free", "plus")[offset % 2]],
                "fields": {"city": "Oslo", "signup_day": offset % 365},
            }
            for offset in range(start, min(start + BATCH, count))
        ]
        bodies.append(json.dumps({"subscribers": chunk}).encode())
    return bodies


def upserted(
    url: str, headers: dict[str, str], bodies: list[bytes], clients: int
) -> tuple[float, dict[str, int]]:
    """Seconds to send every body, `clients` requests at a time (each client one after
    another, on its own connection), and the summed summaries."""
    totals = {"new": 0, "known": 0, "changed": 0}

    def send(share: list[bytes]) -> list[dict[str, int]]:
        answers = []
        with httpx.Client(base_url=url, headers=headers, timeout=120) as api:
            for body in share:
                answer = api.post(f"/api/v1/bots/{BOT}/subscribers", content=body)
                if answer.status_code != 200:
                    raise SystemExit(f"upsert failed: {answer.status_code} {answer.text}")
                answers.append(answer.json())
        return answers

    shares = [bodies[start::clients] for start in range(clients)]
    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for answers in pool.map(send, shares):
            for answer in answers:
                for key in totals:
                    totals[key] += answer[key]
    return time.perf_counter() - began, totals


async def fill(url: str, deliveries: int) -> None:
    """RUNS done runs of CAMPAIGN with deliveries // RUNS deliveries each, and rollups."""
    import asyncpg

    per_run = deliveries // RUNS
    connection = await asyncpg.connect(url)
    try:
        bot_id = await connection.fetchval("SELECT id FROM bots WHERE name = $1", BOT)
        # Enough subscribers for one run's audience (the API made the first ones).
        await connection.execute(
            """INSERT INTO subscribers (bot_id, chat_id, first_name, language_code, tags)
               SELECT $1, $2 + n, 'Person ' || n, 'en', '{news}'
                 FROM generate_series(0, $3 - 1) AS n
               ON CONFLICT (bot_id, chat_id) DO NOTHING""",
            bot_id, FIRST_CHAT_ID, per_run,
        )  # fmt: skip
        campaign_id, variant_id = await connection.fetchrow(
            """SELECT c.id, v.id FROM campaigns c JOIN variants v ON v.campaign_id = c.id
                WHERE c.name = $1""",
            CAMPAIGN,
        )
        await connection.execute(
            """INSERT INTO runs (campaign_id, number, status, audience, started_at, finished_at)
               SELECT $1, n, 'done', $2, now() - (($3 - n) || ' days')::interval,
                      now() - (($3 - n) || ' days')::interval + interval '1 hour'
                 FROM generate_series(1, $3) AS n""",
            campaign_id, per_run, RUNS,
        )  # fmt: skip
        # Outcomes as a large audience has them: most sent, some blocked, gone or failed.
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
                               FROM subscribers WHERE bot_id = $1 ORDER BY id LIMIT $3) s
                WHERE r.campaign_id = $4""",
            bot_id, variant_id, per_run, campaign_id,
        )  # fmt: skip
        # The rollups the recorder would have kept, one row per day.
        await connection.execute(
            """INSERT INTO daily_bot_stats (day, bot_id, sent, failed, blocked, gone)
               SELECT (sent_at AT TIME ZONE 'UTC')::date, bot_id,
                      count(*) FILTER (WHERE status = 'sent'),
                      count(*) FILTER (WHERE status = 'failed'),
                      count(*) FILTER (WHERE failure = 'blocked'),
                      count(*) FILTER (WHERE failure = 'gone')
                 FROM deliveries GROUP BY 1, 2
               ON CONFLICT (bot_id, day) DO UPDATE
                  SET sent = EXCLUDED.sent, failed = EXCLUDED.failed,
                      blocked = EXCLUDED.blocked, gone = EXCLUDED.gone"""
        )
        await connection.execute(
            """INSERT INTO daily_campaign_stats (day, campaign_id, variant_id, bot_id, sent,
                                                 failed, blocked, gone)
               SELECT day, $1, $2, bot_id, sent, failed, blocked, gone
                 FROM daily_bot_stats WHERE bot_id = $3""",
            campaign_id, variant_id, bot_id,
        )  # fmt: skip
        await connection.execute("UPDATE campaigns SET status = 'done' WHERE id = $1", campaign_id)
        await connection.execute("VACUUM ANALYZE deliveries")
    finally:
        await connection.close()


def latencies(api: httpx.Client, path: str, requests: int) -> list[float]:
    """Milliseconds of each of `requests` GETs of path."""
    taken = []
    for _ in range(requests):
        began = time.perf_counter()
        answer = api.get(path)
        taken.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"GET {path} failed: {answer.status_code} {answer.text}")
    return taken


def shown(label: str, taken: list[float]) -> str:
    p95 = statistics.quantiles(taken, n=20)[-1] if len(taken) > 1 else taken[0]
    return f"{label:<44} median {statistics.median(taken):7.1f} ms   p95 {p95:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--deliveries", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    options = parser.parse_args()
    with environment(require_url=True) as env:
        cli(env, "init")
        register_bot(env, BOT, 1)
        cli(env, "campaign", "create", CAMPAIGN, "--bot", BOT, "--text", "Hello")
        token = cli(env, "token", "create", "--role", "admin", "--name", "bench").strip()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with serving(env) as url, httpx.Client(base_url=url, headers=headers, timeout=120) as api:
            print(f"(a) upserting {options.subscribers:,} subscribers in batches of {BATCH:,}")
            for clients in options.clients:
                # Fresh chats for each pass: the first batches make new subscribers, the
                # same again finds every one known and changes none.
                first = FIRST_CHAT_ID + 10**9 * clients
                bodies = batches(options.subscribers, first)
                for kind in ("new", "known"):
                    seconds, totals = upserted(url, headers, bodies, clients)
                    rate = options.subscribers / seconds
                    print(
                        f"    {clients} client(s), {kind:<5} {seconds:6.1f} s  {rate:8,.0f} /s  {totals}"
                    )

            print(f"(b) filling {options.deliveries:,} deliveries ({RUNS} done runs)")
            began = time.perf_counter()
            asyncio.run(fill(env["BULLETIN_DATABASE_URL"], options.deliveries))
            print(f"    filled in {time.perf_counter() - began:.0f} s")
            stats_path = "/api/v1/stats/daily?days=30"
            print(
                shown(
                    "GET /api/v1/stats/daily?days=30", latencies(api, stats_path, options.requests)
                )
            )
            campaign_stats = f"{stats_path}&campaign={CAMPAIGN}"
            print(
                shown(
                    "GET /api/v1/stats/daily?campaign=…",
                    latencies(api, campaign_stats, options.requests),
                )
            )
            first = latencies(api, f"/api/v1/campaigns/{CAMPAIGN}/runs/{RUNS}", 1)
            print(shown(f"GET …/runs/{RUNS} (first read: counted once)", first))
            print(
                shown(
                    f"GET …/runs/{RUNS}",
                    latencies(api, f"/api/v1/campaigns/{CAMPAIGN}/runs/{RUNS}", options.requests),
                )
            )
            for number in range(1, RUNS):  # every run read once, then any of them
                latencies(api, f"/api/v1/campaigns/{CAMPAIGN}/runs/{number}", 1)
            spread = [
                latencies(api, f"/api/v1/campaigns/{CAMPAIGN}/runs/{1 + n % RUNS}", 1)[0]
                for n in range(options.requests)
            ]
            print(shown("GET …/runs/{n}, n = 1…20 in turn", spread))
    print("goals: ≥ 20,000 upserts/s; ≤ 50 ms for each answer")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
