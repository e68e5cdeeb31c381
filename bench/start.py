"""How long `bulletin campaign start` takes to freeze a large audience into deliveries.

Imports N generated subscribers (1,000,000 by default) into a bot, creates a campaign
with a personal template and two weighted variants, and times `bulletin campaign start`:
the one statement that writes a pending delivery per chat of the segment. Prints
seconds and deliveries per second; asserts nothing (no goal is set for it).
Usage: python bench/start.py [--size N]
(set BULLETIN_DATABASE_URL to use a PostgreSQL server instead of the embedded one).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import cli, environment, measure, register_bot, write_audience

CAMPAIGN = """name: digest
bot: bench
variants:
  - name: a
    text: Hello {{ first_name }}, news from {{ fields.city }}
  - name: b
    weight: 2
    text: Hi {{ first_name }}!
segment:
  tags: {all: [news]}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, environment() as env:
        cli(env, "init")
        register_bot(env, "bench", 1)
        audience = Path(folder) / "audience.csv"
        write_audience(audience, options.size)
        cli(env, "audience", "import", str(audience), "--bot", "bench")
        design = Path(folder) / "digest.yaml"
        design.write_text(CAMPAIGN)
        cli(env, "campaign", "apply", str(design))
        started = measure(env, "campaign", "start", "digest")
        print(f"  {started.stdout.strip()}")
    print()
    print(f"{'audience':>10} {'seconds':>8} {'deliveries/s':>13}")
    print(f"{options.size:>10,} {started.seconds:>8.1f} {options.size / started.seconds:>13,.0f}")


if __name__ == "__main__":
    main()
