"""Every message of a bot goes through its lease holder's pacer: replies wait in the outbox,
and an opt-out reaches the workers within a second, mid-run."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bulletin import config, models
from bulletin.db import campaigns as campaign_rows
from bulletin.sandbox import Sandbox, World
from tests.listener.conftest import GOODBYE, WELCOME, Setup, make_listener, replying
from tests.support import (
    CliProcess,
    eventually,
    import_world,
    register_bot,
    run_cli,
    start_campaign,
    start_cli,
    wait_for,
)

PERSON = 100_000_901
CAMPAIGN_TEXT = "Hello <b>there</b>"
STOP_REPLY = config.ListenerSettings().stop_confirmation
WELCOME_REPLY = config.ListenerSettings().welcome_text


async def outbox_rows(pool: asyncpg.Pool) -> list[tuple[str, int, str]]:
    rows = await pool.fetch("SELECT kind, chat_id, status FROM outbox ORDER BY id")
    return [(row["kind"], row["chat_id"], row["status"]) for row in rows]


async def test_update_redelivered__same_update_id__one_reply_queued_and_sent(
    setup: Setup,
) -> None:
    setup.sandbox.actions.stop(setup.bot.id, PERSON)
    listener = make_listener(setup)
    try:
        updates = await listener.client.get_updates(0, 0, ["message"])
        assert await listener.handle_batch(updates) == [True]
        assert await listener.handle_batch(updates) == [False]  # a webhook retry, a replay
        assert await listener.handle(updates[0]) is False
        assert setup.replies(PERSON) == []  # the listener itself never sends
        async with replying(setup):
            pass
    finally:
        await listener.client.close()

    assert await outbox_rows(setup.pool) == [("reply", PERSON, "sent")]
    assert setup.replies(PERSON) == [GOODBYE]


async def test_listener_killed_after_commit__restarted_sender__reply_still_sent(
    setup: Setup,
) -> None:
    setup.sandbox.actions.start(setup.bot.id, PERSON)
    listener = make_listener(setup)
    try:
        updates = await listener.client.get_updates(0, 0, ["message"])
        assert await listener.handle_batch(updates) == [True]
    finally:
        await listener.client.close()  # the process dies here: nothing was sent
    assert await outbox_rows(setup.pool) == [("reply", PERSON, "pending")]

    async with replying(setup):  # the next `bulletin listen` (or any worker)
        pass

    assert setup.replies(PERSON) == [WELCOME]
    assert await outbox_rows(setup.pool) == [("reply", PERSON, "sent")]


@contextlib.asynccontextmanager
async def command(*args: str, env: dict[str, str], log: Path) -> AsyncIterator[CliProcess]:
    """A long-running bulletin command, stopped with SIGTERM at the end of the block."""
    with log.open("wb") as output:
        process = await start_cli(
            *args, env=env, stdin=None, stdout=output.fileno(), stderr=output.fileno()
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                process.terminate()
            async with asyncio.timeout(30):
                await process.wait()


@pytest.fixture
async def sandbox_30() -> AsyncIterator[Sandbox]:
    """Telegram's limits as they are: 30 messages/s for the bot, 1/s per private chat."""
    world = World.generate(700, seed=9)
    world.add_bot(rate_per_s=30)
    async with Sandbox(world) as sandbox:
        yield sandbox


async def test_listen_alone__start__answered_within_2_s(
    setup: Setup, cli_env: dict[str, str], tmp_path: Path
) -> None:
    sandbox, pool = setup.sandbox, setup.pool
    sandbox.actions.send_text(setup.bot.id, PERSON + 1, "hello?")
    async with command("listen", env=cli_env, log=tmp_path / "listen.log"):
        await wait_for(pool, "SELECT EXISTS (SELECT 1 FROM update_offsets)")  # polling now
        started_at = time.time()
        sandbox.actions.start(setup.bot.id, PERSON)
        await eventually(lambda: any(e.chat_id == PERSON for e in sandbox.ledger))
        await wait_for(pool, "SELECT NOT EXISTS (SELECT 1 FROM bot_leases)")  # given back

    (reply,) = [e for e in sandbox.ledger if e.chat_id == PERSON]
    assert reply.text == WELCOME_REPLY
    assert reply.at - started_at <= 2.0
    assert await outbox_rows(pool) == [("reply", PERSON, "sent")]


@pytest.mark.slow
async def test_stops_during_a_30_per_s_run__paced_answered_and_honoured_within_1_s(
    sandbox_30: Sandbox, cli_env: dict[str, str], pool: asyncpg.Pool, tmp_path: Path
) -> None:
    sandbox, world = sandbox_30, sandbox_30.world
    bot = await register_bot(pool, sandbox, next(iter(world.bots.values())), "news", 30)
    await import_world(pool, world, bot, tmp_path)
    quitters = sorted(world.chats)[::7][:100]
    stopped_at: dict[int, float] = {}
    sandbox.actions.send_text(bot.id, PERSON, "hello?")  # polling has begun once it is applied
    async with (
        command("serve", env=cli_env, log=tmp_path / "serve.log"),
        command("listen", env=cli_env, log=tmp_path / "listen.log"),
    ):
        await wait_for(pool, "SELECT EXISTS (SELECT 1 FROM update_offsets)")
        run = await start_campaign(pool, bot, "launch", CAMPAIGN_TEXT)
        await eventually(lambda: len(sandbox.ledger) >= 30)
        for chat_id in quitters:
            stopped_at[chat_id] = time.time()
            sandbox.actions.stop(bot.id, chat_id)
            await asyncio.sleep(0.1)
        await wait_for(
            pool, "SELECT status = 'done' FROM runs WHERE id = $1", run.id, timeout_s=120
        )
        await wait_for(
            pool, "SELECT count(*) = 100 FROM outbox WHERE status = 'sent'", timeout_s=30
        )

    late_replies, late_campaign_messages = [], []
    for chat_id, at in stopped_at.items():
        entries = [e for e in sandbox.ledger if e.chat_id == chat_id]
        (reply,) = [e for e in entries if e.text == STOP_REPLY]
        if reply.at - at > 2.0:
            late_replies.append((chat_id, round(reply.at - at, 2)))
        late_campaign_messages += [
            (chat_id, round(e.at - at, 2))
            for e in entries
            if e.text != STOP_REPLY and e.at > at + 1.0
        ]
    assert late_replies == []
    assert late_campaign_messages == []
    assert sandbox.stats.requests_during_retry_after == 0
    assert sandbox.stats.too_many_requests <= 3
    skipped = await pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE status = 'skipped' AND failure = 'unsubscribed'"
    )
    sent = await pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sent'")
    assert sent + skipped == 700
    print(
        f"429s={sandbox.stats.too_many_requests} skipped={skipped} "
        f"slowest_reply_s={max(r.at - stopped_at[r.chat_id] for r in sandbox.ledger if r.text == STOP_REPLY):.2f}"
    )


async def create_campaign(setup: Setup, text: str) -> None:
    async with setup.pool.acquire() as connection:
        await campaign_rows.create(
            connection, name="hello", bot=setup.bot, text=text, parse_mode=models.ParseMode.HTML
        )


async def test_campaign_check__test_chat__sent_through_the_outbox(
    setup: Setup, cli_env: dict[str, str]
) -> None:
    await create_campaign(setup, "Hi <b>there</b>")
    setup.sandbox.actions.start(setup.bot.id, PERSON)  # the admin's own chat knows the bot

    code, out, err = await run_cli(
        "campaign", "check", "hello", "--test-chat", str(PERSON), env=cli_env
    )

    assert code == 0, err
    assert f"every variant sent to chat {PERSON}" in out
    assert setup.replies(PERSON) == ["Hi <b>there</b>"]
    assert await outbox_rows(setup.pool) == [("test", PERSON, "sent")]


async def test_campaign_check__test_chat_blocked__fails_with_telegram_reason(
    setup: Setup, cli_env: dict[str, str]
) -> None:
    await create_campaign(setup, "Hi <b>there</b>")
    setup.sandbox.actions.block(setup.bot.id, PERSON)

    code, _out, err = await run_cli(
        "campaign", "check", "hello", "--test-chat", str(PERSON), env=cli_env
    )

    assert code == 1
    assert "variant" in err
    assert "test send: Forbidden" in err
    assert len(err.strip().splitlines()) == 1
    assert await outbox_rows(setup.pool) == [("test", PERSON, "failed")]


async def test_campaign_check__without_test_chat__bot_api_client_not_imported(
    setup: Setup, cli_env: dict[str, str]
) -> None:
    await create_campaign(setup, "Hi <b>there</b>")

    code, out, err = await run_cli(
        "campaign", "check", "hello", env={**cli_env, "PYTHONPROFILEIMPORTTIME": "1"}
    )

    assert code == 0, err
    assert "check passed" in out
    assert "bulletin.cli.preflight" in err  # the import profile is there
    assert "aiogram" not in err
