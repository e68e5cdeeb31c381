"""How close one bulletin process gets to a bot's Telegram limit, and whether it ever trips it.

Runs `bulletin run` for a 3,000-subscriber campaign (5% blocked, 1% gone) against the
sandbox in another process at 30 msgs/s, then reads the sandbox's ledger and counters.
Prints figures; asserts nothing. Usage: python bench/pace.py [--users N] [--rate R]
(set BULLETIN_DATABASE_URL to use a PostgreSQL server instead of the embedded one).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import cli, environment, prepare_campaign, sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=30.0)
    options = parser.parse_args()
    sandbox_args = ["--users", str(options.users), "--blocked", "0.05", "--gone", "0.01"]
    sandbox_args += ["--rate", str(options.rate)]
    with (
        tempfile.TemporaryDirectory() as folder,
        environment() as env,
        sandbox(Path(folder), *sandbox_args) as box,
    ):
        prepare_campaign(env, box, "pace", "--rate", str(options.rate))
        box.post("/sandbox/reset-stats")
        began = time.monotonic()
        cli(env, "run", "pace")
        wall_s = time.monotonic() - began
        stats = box.get("/sandbox/stats")
        ledger = box.ledger()
    times = sorted(entry["at"] for entry in ledger)
    span_s = times[-1] - times[0]
    send_requests = stats["requests"]
    requests_per_s = (send_requests - 1) / span_s
    delivered_per_s = (len(times) - 1) / span_s
    duplicates = len(ledger) - len({(e["bot_id"], e["chat_id"]) for e in ledger})
    print(f"audience                  {options.users:,} chats, limit {options.rate:g} msgs/s")
    print(f"sendMessage requests      {send_requests:,} (delivered {len(ledger):,})")
    print(
        f"sending span              {span_s:.1f} s (wall clock of `bulletin run`: {wall_s:.1f} s)"
    )
    print(f"achieved requests/s       {requests_per_s:.2f}")
    print(f"achieved ÷ limit          {requests_per_s / options.rate:.3f}   (goal ≥ 0.95)")
    print(f"delivered msgs/s          {delivered_per_s:.2f}")
    print(f"429 answers               {stats['too_many_requests']}")
    print(f"requests in retry_after   {stats['requests_during_retry_after']}")
    print(f"duplicate messages        {duplicates}")


if __name__ == "__main__":
    main()
