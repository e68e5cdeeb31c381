"""Each update applied exactly once: across a listener killed mid-stream, a webhook
delivery retried after the update was applied, and the same update handled twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence

import asyncpg

from bulletin import subscriptions
from bulletin.db.updates import UpdateStore
from bulletin.telegram.client import BotClient
from bulletin.telegram.listener import poll_all
from tests.listener.conftest import GOODBYE, Setup, listening, make_listener, replying

PEOPLE = [100_000_700 + n for n in range(15)]


class RecordingStore:
    """The real store, noting which updates it applied; can fail or signal after applying."""

    def __init__(self, store: UpdateStore, fail_first_try: bool = False) -> None:
        self.store = store
        self.applied: list[int] = []
        self.fail_first_try = fail_first_try
        self.attempts: Counter[int] = Counter()
        self.progress = asyncio.Event()

    async def apply_updates(
        self, bot_id: int, decisions: Sequence[tuple[int, subscriptions.Decision]]
    ) -> list[bool]:
        applied = await self.store.apply_updates(bot_id, decisions)
        update_ids = [update_id for update_id, _ in decisions]
        self.applied += [u for u, done in zip(update_ids, applied, strict=True) if done]
        self.attempts.update(update_ids)
        self.progress.set()
        if self.fail_first_try and any(self.attempts[u] == 1 for u in update_ids):
            raise ConnectionResetError("the answer to Telegram was lost")
        return applied

    async def wait_until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not done():
                self.progress.clear()
                await self.progress.wait()

    async def next_update_id(self, bot_id: int) -> int:
        next_id: int = await self.store.next_update_id(bot_id)
        return next_id


def script_stream(setup: Setup) -> list[int]:
    """Each person starts, then stops, then starts again: 45 updates."""
    return script_opt_outs(setup) + script_returns(setup)


def script_opt_outs(setup: Setup) -> list[int]:
    """Each person starts, then stops: 30 updates."""
    actions, update_ids = setup.sandbox.actions, []
    for person in PEOPLE:
        update_ids.append(actions.start(setup.bot.id, person))
        update_ids.append(actions.stop(setup.bot.id, person))
    return [update_id for update_id in update_ids if update_id is not None]


def script_returns(setup: Setup) -> list[int]:
    """Each person starts again: 15 updates."""
    update_ids = [setup.sandbox.actions.start(setup.bot.id, p, "again") for p in PEOPLE]
    return [update_id for update_id in update_ids if update_id is not None]


async def final_state(pool: asyncpg.Pool) -> list[tuple[int, str, str | None]]:
    rows = await pool.fetch("SELECT chat_id, status, source FROM subscribers ORDER BY chat_id")
    return [(row["chat_id"], row["status"], row["source"]) for row in rows]


async def test_polling__killed_mid_stream_and_restarted__every_update_applied_once(
    setup: Setup,
) -> None:
    update_ids = script_opt_outs(setup)
    recording = RecordingStore(UpdateStore(setup.pool))
    listener = make_listener(setup, recording)
    killed = asyncio.create_task(poll_all([listener], asyncio.Event()))
    await recording.wait_until(lambda: len(recording.applied) >= 10)
    # More updates come while the listener is long-polling, and it dies in the middle.
    update_ids += script_returns(setup)
    killed.cancel()  # as abrupt as a kill: whatever was in flight is rolled back
    await asyncio.gather(killed, return_exceptions=True)
    await listener.client.close()
    applied_before_restart = len(recording.applied)

    async with listening(setup, "polling", recording):
        await setup.processed(update_ids[-1])

    assert 10 <= applied_before_restart < len(update_ids)
    assert Counter(recording.applied) == Counter(update_ids)
    assert await final_state(setup.pool) == [(p, "subscribed", "again") for p in PEOPLE]
    events = await setup.pool.fetchval("SELECT count(*) FROM events")
    assert events == len(update_ids)  # every update changed a status once


async def test_webhook__retried_after_applying__applied_once(setup: Setup) -> None:
    update_ids = script_stream(setup)
    recording = RecordingStore(UpdateStore(setup.pool), fail_first_try=True)

    async with listening(setup, "webhook", recording):
        await recording.wait_until(lambda: min(recording.attempts[u] for u in update_ids) >= 2)

    assert setup.sandbox.webhooks.failed >= len(update_ids)
    assert Counter(recording.applied) == Counter(update_ids)
    assert await final_state(setup.pool) == [(p, "subscribed", "again") for p in PEOPLE]


async def test_handle__same_update_twice__same_state_one_event_one_reply(setup: Setup) -> None:
    actions = setup.sandbox.actions
    actions.start(setup.bot.id, PEOPLE[0], "first")
    actions.block(setup.bot.id, PEOPLE[0])
    actions.stop(setup.bot.id, PEOPLE[1])
    client = BotClient(setup.bot.token, setup.bot.api_url)
    try:
        updates = await client.get_updates(0, 0, ["message", "my_chat_member"])
    finally:
        await client.close()
    listener = make_listener(setup)
    try:
        async with replying(setup):
            first = [await listener.handle(update) for update in updates]
            state = await final_state(setup.pool)
            second = [await listener.handle(update) for update in updates]
    finally:
        await listener.client.close()

    assert first == [True, True, True]
    assert second == [False, False, False]
    assert await final_state(setup.pool) == state
    assert state == [(PEOPLE[0], "blocked", "first"), (PEOPLE[1], "unsubscribed", "listener")]
    assert await setup.pool.fetchval("SELECT count(*) FROM events") == 3
    assert setup.replies(PEOPLE[0]) == []  # blocked before the welcome went out
    assert setup.replies(PEOPLE[1]) == [GOODBYE]
