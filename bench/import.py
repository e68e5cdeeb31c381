"""How fast `bulletin audience import` takes a large file, and how much memory it needs.

Generates CSV files of N subscribers with 3 custom fields (100,000 and 1,000,000 by
default), imports each into a fresh bot with `bulletin audience import` as a
subprocess, and prints wall-clock seconds and the peak RSS of that process (sampled
with psutil). Memory should be flat in file size: the file streams through COPY.
Then the largest file is imported again into the same bot: every chat known, none
changed, so no row should be rewritten. Prints figures; asserts nothing. Usage: python bench/import.py [--sizes 100000 1000000]
(set BULLETIN_DATABASE_URL to use a PostgreSQL server instead of the embedded one).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
from common import BULLETIN, cli, environment

FIRST_CHAT_ID = 200_000_000
CITIES = ("Oslo", "Lisbon", "Kyiv", "Lima", "Osaka", "Accra", "Porto", "Quito")
PLANS = ("free", "plus", "pro")
SAMPLE_S = 0.02


def write_audience(path: Path, size: int) -> None:
    """size subscribers: the standard columns, tags, and 3 custom fields."""
    chooser = random.Random(size)
    with path.open("w", encoding="utf-8") as out:
        out.write("chat_id,first_name,username,language_code,tags,city,plan,signup_day\n")
        for offset in range(size):
            chat_id = FIRST_CHAT_ID + offset
            out.write(
                f"{chat_id},Person {offset},user{chat_id},"
                f"{chooser.choice(('en', 'de', 'es'))},news;{chooser.choice(PLANS)},"
                f"{chooser.choice(CITIES)},{chooser.choice(PLANS)},{offset % 365}\n"
            )


def measure(env: dict[str, str], bot: str, path: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one `bulletin audience import` process."""
    began = time.monotonic()
    process = subprocess.Popen(
        [*BULLETIN, "audience", "import", str(path), "--bot", bot],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watched = psutil.Process(process.pid)
    peak_bytes = 0
    while process.poll() is None:
        try:
            peak_bytes = max(peak_bytes, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(SAMPLE_S)
    out, err = process.communicate()
    seconds = time.monotonic() - began
    if process.returncode != 0:
        raise SystemExit(f"import failed: {err.strip()}")
    print(f"  {out.strip()}")
    return seconds, peak_bytes / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, environment() as env:
        cli(env, "init")
        sandbox_url = "http://127.0.0.1:9"  # never called: import does not talk to Telegram
        results = []
        for number, size in enumerate(options.sizes, start=1):
            path = Path(folder) / f"audience-{size}.csv"
            write_audience(path, size)
            bot = f"bench{number}"
            _register(env, bot, number, sandbox_url)
            print(f"importing {size:,} subscribers ({path.stat().st_size / 1e6:.0f} MB)")
            seconds, peak_mb = measure(env, bot, path)
            results.append((f"{size:,}", size, seconds, peak_mb))
        print(f"importing the {size:,} again into {bot}")
        seconds, peak_mb = measure(env, bot, path)
        results.append((f"{size:,} again", size, seconds, peak_mb))
    print()
    print(f"{'subscribers':>18} {'seconds':>8} {'rows/s':>10} {'peak RSS MB':>12}")
    for label, size, seconds, peak_mb in results:
        print(f"{label:>18} {seconds:>8.1f} {size / seconds:>10,.0f} {peak_mb:>12.0f}")
    print("goals: ≤ 20 s for 1,000,000; peak RSS < 200 MB and flat in file size")


def _register(env: dict[str, str], name: str, number: int, api_url: str) -> None:
    """A bot row without getMe: the import only needs the bot to exist."""
    import asyncio

    import asyncpg

    from bulletin.db import embedded

    url = env.get("BULLETIN_DATABASE_URL") or embedded.start(
        Path(env["BULLETIN_DATA_DIR"]) / "postgres"
    )

    async def go() -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(
                "INSERT INTO bots (id, name, username, token, api_url) VALUES ($1, $2, $2, $3, $4)",
                7_100_000_000 + number,
                name,
                f"{7_100_000_000 + number}:bench",
                api_url,
            )
        finally:
            await connection.close()

    asyncio.run(go())


if __name__ == "__main__":
    main()
