"""What bulletin's bookkeeping costs: its delivery rate against a bare aiogram loop.

With the sandbox unlimited (in another process), sends N messages twice in the same
run: once with a bare aiogram loop (no database, same concurrency), once with
`bulletin run` (claim, pace, send, classify, record in PostgreSQL). Prints msgs/s of
each and the ratio (goal ≥ 0.80). Prints figures; asserts nothing.
Usage: python bench/engine.py [--messages N] [--concurrency C] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from common import SandboxProcess, cli, environment, measure, sandbox, span_rate

# The baseline gets bulletin's fix for aiogram's per-answer model rebuild too (see
# bulletin/telegram/client.py), so the ratio measures bookkeeping, not that fix.
import bulletin.telegram.client  # noqa: F401


async def bare_loop(box: SandboxProcess, chat_ids: list[int], concurrency: int) -> float:
    """The fastest plain aiogram can go: a semaphore and send_message, nothing recorded."""
    gc.freeze()  # as bulletin's worker does: the same runtime tuning on both sides
    session = AiohttpSession(api=TelegramAPIServer.from_base(box.url), limit=concurrency)
    bot = Bot(box.tokens[0], session=session)
    gate = asyncio.Semaphore(concurrency)

    async def send(chat_id: int) -> None:
        async with gate:
            await bot.send_message(chat_id=chat_id, text="Benchmark message")

    began = time.monotonic()
    async with asyncio.TaskGroup() as group:
        for chat_id in chat_ids:
            await gate.acquire()
            gate.release()
            group.create_task(send(chat_id))
    elapsed = time.monotonic() - began
    await bot.session.close()
    return len(chat_ids) / elapsed


async def unpace(env: dict[str, str]) -> None:
    """Lift the bot's pace far above anything reachable, so only bookkeeping limits it."""
    connection = await asyncpg.connect(env["BULLETIN_DATABASE_URL"])
    try:
        await connection.execute("UPDATE bots SET rate_per_s = 1000000")
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="each side; medians are compared")
    options = parser.parse_args()
    sandbox_args = ["--users", str(options.messages), "--blocked", "0", "--gone", "0"]
    with (
        tempfile.TemporaryDirectory() as folder,
        environment(require_url=True) as env,
        sandbox(Path(folder), *sandbox_args, "--unlimited") as box,
    ):
        chat_ids = [int(line.split(",")[0]) for line in box.audience.read_text().splitlines()[1:]]
        cli(env, "init")
        cli(env, "bot", "add", box.tokens[0], "--name", "engine", "--api-url", box.url)
        asyncio.run(unpace(env))
        cli(env, "audience", "import", str(box.audience), "--bot", "engine")
        env["BULLETIN_WORKER__MAX_IN_FLIGHT"] = str(options.concurrency)
        bare, ours = [], []
        for round_number in range(options.rounds):  # interleaved, so drift hits both sides
            bare.append(asyncio.run(bare_loop(box, chat_ids, options.concurrency)))
            name = f"engine{round_number}"
            cli(env, "campaign", "create", name, "--bot", "engine", "--text", "Benchmark message")
            seen = len(box.ledger())
            run = measure(env, "run", name, "--quiet")  # bookkeeping, not the progress bar
            ours.append(span_rate(box.ledger()[seen:])[0])
    bare_per_s, bulletin_per_s = statistics.median(bare), statistics.median(ours)
    print(f"messages each             {len(chat_ids):,} at concurrency {options.concurrency}, "
          f"{options.rounds} rounds each")  # fmt: skip
    print(f"bare aiogram loop         {bare_per_s:,.0f} msgs/s (median of {_list(bare)})")
    print(f"bulletin run              {bulletin_per_s:,.0f} msgs/s (median of {_list(ours)}; "
          f"peak RSS {run.peak_rss_mb:.0f} MB)")  # fmt: skip
    print(f"bulletin ÷ bare           {bulletin_per_s / bare_per_s:.3f}   (goal ≥ 0.80)")


def _list(rates: list[float]) -> str:
    return ", ".join(f"{rate:,.0f}" for rate in rates)


if __name__ == "__main__":
    main()
