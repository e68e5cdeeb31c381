"""Paid broadcast: can one bulletin process hold 1000 msgs/s (allow_paid_broadcast)?

Delivers 20,000 messages through a bot with paid broadcast on, against the sandbox
(in another process) whose paid limit is 1000 msgs/s; reports achieved ÷ limit and the
peak RSS of the `bulletin run` process. Prints figures; asserts nothing.
Usage: python bench/paid.py [--users N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import environment, measure, prepare_campaign, sandbox, span_rate

PAID_LIMIT = 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20_000)
    options = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        environment() as env,
        sandbox(
            Path(folder), "--users", str(options.users), "--blocked", "0", "--gone", "0"
        ) as box,
    ):
        prepare_campaign(env, box, "flash", "--paid-broadcast")
        box.post("/sandbox/reset-stats")
        run = measure(env, "run", "flash")
        stats = box.get("/sandbox/stats")
        ledger = box.ledger()
    rate, span_s = span_rate(ledger)
    paid = sum(1 for entry in ledger if entry["paid"])
    print(f"messages delivered        {len(ledger):,} ({paid:,} with allow_paid_broadcast)")
    print(f"sending span              {span_s:.1f} s (whole command {run.seconds:.1f} s)")
    print(f"achieved msgs/s           {rate:.0f}")
    print(f"achieved ÷ paid limit     {rate / PAID_LIMIT:.3f}   (goal ≥ 0.90)")
    print(f"429 answers               {stats['too_many_requests']}")
    print(f"peak RSS of bulletin run  {run.peak_rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
