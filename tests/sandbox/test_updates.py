"""Scripted updates over real HTTP: getUpdates offsets, long polls, webhooks, chat state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError, TelegramForbiddenError
from aiogram.types import (
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberRestricted,
)
from aiohttp import web

from bulletin.sandbox import Sandbox
from bulletin.sandbox.webhook import SECRET_HEADER
from tests.sandbox.conftest import PRIVATE_CHAT_ID

GROUP_ID = -1_002_000_000_001
CHANNEL_ID = -1_003_000_000_001


class Receiver:
    """A webhook endpoint that records what it is sent, failing the first `failures` posts."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[str | None, dict[str, object]]] = []
        self.arrived = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        if self.failures > 0:
            self.failures -= 1
            return web.Response(status=500)
        self.received.append((request.headers.get(SECRET_HEADER), await request.json()))
        self.arrived.set()
        return web.Response(text="ok")

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    application = web.Application()
    application.add_routes([web.post("/hook", found.handle)])
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield found
    await runner.cleanup()


async def test_get_updates__offset_confirms_and_unconfirmed_come_again(
    bot: Bot, sandbox: Sandbox
) -> None:
    first = sandbox.actions.start(bot.id, PRIVATE_CHAT_ID, "spring_promo")
    second = sandbox.actions.stop(bot.id, PRIVATE_CHAT_ID)
    assert first is not None
    assert second is not None

    updates = await bot.get_updates()
    again = await bot.get_updates()
    after_first = await bot.get_updates(offset=first + 1)
    after_both = await bot.get_updates(offset=second + 1)
    earlier = await bot.get_updates(offset=first)

    assert [u.update_id for u in updates] == [first, second] == [u.update_id for u in again]
    assert updates[0].message is not None
    assert updates[0].message.text == "/start spring_promo"
    assert updates[0].message.from_user is not None
    assert updates[0].message.from_user.id == PRIVATE_CHAT_ID
    assert [u.update_id for u in after_first] == [second]
    assert after_both == []
    assert earlier == []  # confirmed updates are gone for good


async def test_get_updates__long_poll__answers_when_an_update_arrives(
    bot: Bot, sandbox: Sandbox
) -> None:
    polling = asyncio.create_task(bot.get_updates(timeout=30))
    sandbox.actions.send_text(bot.id, PRIVATE_CHAT_ID, "hello")
    async with asyncio.timeout(5):
        updates = await polling
    assert [u.message.text for u in updates if u.message] == ["hello"]


async def test_get_updates__newer_poll__ends_the_older_with_conflict(
    bot: Bot, sandbox: Sandbox
) -> None:
    polled = sandbox.updates.queue(bot.id).arrived  # set when a getUpdates reaches the server
    older = asyncio.create_task(bot.get_updates(timeout=30))
    async with asyncio.timeout(5):
        await polled.wait()
        assert await bot.get_updates(timeout=0) == []
        with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
            await older


async def test_get_updates__allowed_updates__other_kinds_never_queued(
    bot: Bot, sandbox: Sandbox
) -> None:
    await bot.get_updates(allowed_updates=["message"])
    sandbox.actions.block(bot.id, PRIVATE_CHAT_ID)
    sandbox.actions.send_text(bot.id, PRIVATE_CHAT_ID + 1, "hi")
    updates = await bot.get_updates()
    assert [u.event_type for u in updates] == ["message"]


async def test_actions__block__my_chat_member_and_403(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.actions.block(bot.id, PRIVATE_CHAT_ID)
    sandbox.actions.unblock(bot.id, PRIVATE_CHAT_ID)
    sandbox.actions.block(bot.id, PRIVATE_CHAT_ID)
    updates = await bot.get_updates()
    changes = [u.my_chat_member for u in updates]
    assert all(change is not None for change in changes)
    kinds = [(type(c.old_chat_member), type(c.new_chat_member)) for c in changes if c]
    assert kinds == [
        (ChatMemberMember, ChatMemberBanned),
        (ChatMemberBanned, ChatMemberMember),
        (ChatMemberMember, ChatMemberBanned),
    ]
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(PRIVATE_CHAT_ID, "hi")


async def test_actions__start_after_block__unblocks_then_starts(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.actions.block(bot.id, PRIVATE_CHAT_ID)
    sandbox.actions.start(bot.id, PRIVATE_CHAT_ID)
    updates = await bot.get_updates()
    assert [u.event_type for u in updates] == ["my_chat_member", "my_chat_member", "message"]
    assert (await bot.send_message(PRIVATE_CHAT_ID, "welcome back")).text == "welcome back"


async def test_actions__groups_and_channels__membership_rights_and_sends(
    bot: Bot, sandbox: Sandbox
) -> None:
    actions = sandbox.actions
    actions.add_to_chat(bot.id, GROUP_ID, "supergroup", "Readers")
    actions.change_rights(bot.id, GROUP_ID, can_post=False)
    actions.add_to_chat(bot.id, CHANNEL_ID, "channel", "News", can_post=True)
    actions.remove_from_chat(bot.id, CHANNEL_ID, kicked=False)
    updates = await bot.get_updates()
    members = [u.my_chat_member for u in updates if u.my_chat_member]
    added, restricted, channel, left = members
    assert isinstance(added.old_chat_member, ChatMemberLeft)
    assert isinstance(added.new_chat_member, ChatMemberMember)
    assert added.chat.title == "Readers"
    assert isinstance(restricted.new_chat_member, ChatMemberRestricted)
    assert restricted.new_chat_member.can_send_messages is False
    assert isinstance(channel.new_chat_member, ChatMemberAdministrator)
    assert channel.new_chat_member.can_post_messages is True
    assert channel.chat.type == "channel"
    assert isinstance(left.new_chat_member, ChatMemberLeft)
    with pytest.raises(TelegramBadRequest, match="not enough rights"):
        await bot.send_message(GROUP_ID, "hi")
    with pytest.raises(TelegramForbiddenError, match="not a member"):
        await bot.send_message(CHANNEL_ID, "hi")


async def test_actions__migrate__service_messages_in_both_chats(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.actions.add_to_chat(bot.id, -4001, "group", "Old group")
    sandbox.actions.migrate(bot.id, -4001, GROUP_ID)
    updates = await bot.get_updates()
    messages = [u.message for u in updates if u.message]
    assert [(m.chat.id, m.migrate_to_chat_id, m.migrate_from_chat_id) for m in messages] == [
        (-4001, GROUP_ID, None),
        (GROUP_ID, None, -4001),
    ]
    assert (await bot.send_message(GROUP_ID, "moved")).chat.type == "supergroup"


async def test_webhook__pushes_updates_in_order_with_the_secret_and_retries(
    bot: Bot, sandbox: Sandbox, receiver: Receiver
) -> None:
    receiver.failures = 2
    sandbox.actions.start(bot.id, PRIVATE_CHAT_ID)
    assert await bot.set_webhook(receiver.url, secret_token="s3cret_token-1")
    sandbox.actions.stop(bot.id, PRIVATE_CHAT_ID)

    await receiver.wait_for(2)

    assert [secret for secret, _ in receiver.received] == ["s3cret_token-1"] * 2
    texts = [body["message"]["text"] for _, body in receiver.received]  # type: ignore[index]
    assert texts == ["/start", "/stop"]
    info = await bot.get_webhook_info()
    assert info.url == receiver.url
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert await bot.get_updates() == []


async def test_webhook__bad_secret_or_drop_pending(bot: Bot, sandbox: Sandbox) -> None:
    with pytest.raises(TelegramBadRequest, match="unallowed characters"):
        await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="no spaces")
    sandbox.actions.start(bot.id, PRIVATE_CHAT_ID)
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == []


async def test_control__script_an_action_over_http(bot: Bot, sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession(base_url=sandbox.url) as session:
        body = {"action": "start", "bot_id": bot.id, "user_id": 555, "payload": "ad_1"}
        async with session.post("/sandbox/updates", json=body) as response:
            assert response.status == 201
            (update_id,) = (await response.json())["update_ids"]
        async with session.get("/sandbox/updates", params={"bot_id": bot.id}) as response:
            pending = await response.json()
        async with session.post("/sandbox/updates", json={"action": "dance"}) as response:
            assert response.status == 400
        bad = {"action": "start", "bot_id": bot.id}
        async with session.post("/sandbox/updates", json=bad) as response:
            assert response.status == 400
    assert pending["pending_update_count"] == 1
    assert pending["updates"][0]["update_id"] == update_id
    assert pending["updates"][0]["message"]["text"] == "/start ad_1"
