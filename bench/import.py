"""How fast `bulletin audience import` takes a large file, and how much memory it needs.

Generates CSV files of N subscribers with 3 custom fields (100,000 and 1,000,000 by
default), imports each into a fresh bot with `bulletin audience import` as a
subprocess, and prints wall-clock seconds and the peak RSS of that process (sampled
with psutil). Memory should be flat in file size: the file streams through COPY.
Then the largest file is imported again into the same bot: every chat known, none
changed, so no row should be rewritten. Prints figures; asserts nothing.
Usage: python bench/import.py [--sizes 100000 1000000]
(set BULLETIN_DATABASE_URL to use a PostgreSQL server instead of the embedded one).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import cli, environment, measure, register_bot, write_audience

SAMPLE_S = 0.02


def imported(env: dict[str, str], bot: str, path: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of one `bulletin audience import` process."""
    result = measure(env, "audience", "import", str(path), "--bot", bot, sample_s=SAMPLE_S)
    print(f"  {result.stdout.strip()}")
    return result.seconds, result.peak_rss_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, environment() as env:
        cli(env, "init")
        results = []
        for number, size in enumerate(options.sizes, start=1):
            path = Path(folder) / f"audience-{size}.csv"
            write_audience(path, size)
            bot = f"bench{number}"
            register_bot(env, bot, number)
            print(f"importing {size:,} subscribers ({path.stat().st_size / 1e6:.0f} MB)")
            seconds, peak_mb = imported(env, bot, path)
            results.append((f"{size:,}", size, seconds, peak_mb))
        print(f"importing the {size:,} again into {bot}")
        seconds, peak_mb = imported(env, bot, path)
        results.append((f"{size:,} again", size, seconds, peak_mb))
    print()
    print(f"{'subscribers':>18} {'seconds':>8} {'rows/s':>10} {'peak RSS MiB':>13}")
    for label, size, seconds, peak_mb in results:
        print(f"{label:>18} {seconds:>8.1f} {size / seconds:>10,.0f} {peak_mb:>13.0f}")
    print("goals: ≤ 20 s for 1,000,000; peak RSS < 200 MB and flat in file size")


if __name__ == "__main__":
    main()
