"""What a listener reports of the updates it receives: their kind, from a fixed set."""

from __future__ import annotations

import asyncio
from collections import Counter

from aiogram import types

from bulletin.db.updates import UpdateStore
from bulletin.telegram.client import BotClient
from bulletin.telegram.listener import Listener, poll_all
from bulletin.telegram.signals import UPDATE_KINDS, update_kind
from tests.listener.conftest import Setup, replying

PERSON = 100_000_901


class Recording:
    def __init__(self) -> None:
        self.kinds: Counter[tuple[str, str]] = Counter()

    def update_received(self, bot: str, kind: str) -> None:
        self.kinds[bot, kind] += 1


async def test_listener__messages_and_a_block__counted_by_kind(setup: Setup) -> None:
    recording = Recording()
    client = BotClient(setup.bot.token, setup.bot.api_url)
    listener = Listener(
        setup.bot, client, UpdateStore(setup.pool), setup.settings.listener, observer=recording
    )
    actions = setup.sandbox.actions
    stop = asyncio.Event()
    async with replying(setup):
        polling = asyncio.create_task(poll_all([listener], stop))
        try:
            actions.start(setup.bot.id, PERSON)
            actions.send_text(setup.bot.id, PERSON, "hello")
            await setup.processed(actions.block(setup.bot.id, PERSON))
        finally:
            stop.set()
            await polling
            await client.close()

    assert recording.kinds == {("listened", "message"): 2, ("listened", "my_chat_member"): 1}


def test_update_kind__nothing_known_in_it__other() -> None:
    assert update_kind(types.Update(update_id=1)) == "other"
    assert set(UPDATE_KINDS) >= {"message", "my_chat_member", "other"}
