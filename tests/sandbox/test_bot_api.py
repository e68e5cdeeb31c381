"""The Bot API over real HTTP through aiogram: answers, envelopes and error descriptions."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bulletin.sandbox import ChatKind, ChatState, Sandbox
from tests.sandbox.conftest import PRIVATE_CHAT_ID

GROUP_CHAT_ID = -4000000001
SUPERGROUP_CHAT_ID = -1002000000001
CHANNEL_CHAT_ID = -1003000000001


async def test_get_me__known_token__bot_user(bot: Bot, sandbox: Sandbox) -> None:
    me = await bot.get_me()
    assert me.id == bot.id
    assert me.is_bot
    assert me.username == sandbox.world.bots[bot.id].username


async def test_send_message__reachable__message_and_ledger(bot: Bot, sandbox: Sandbox) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Open", url="https://example.org")]]
    )
    first = await bot.send_message(
        PRIVATE_CHAT_ID, "<b>Hi</b> &amp; welcome", parse_mode="HTML", reply_markup=keyboard
    )
    second = await bot.send_message(PRIVATE_CHAT_ID, "again", disable_notification=True)
    assert (first.message_id, second.message_id) == (1, 2)
    assert first.text == "Hi & welcome"
    assert first.chat.id == PRIVATE_CHAT_ID
    assert first.chat.type == "private"
    assert first.from_user is not None
    assert first.from_user.id == bot.id
    entry = sandbox.ledger[0]
    assert (entry.bot_id, entry.chat_id, entry.message_id) == (bot.id, PRIVATE_CHAT_ID, 1)
    assert (entry.text, entry.parse_mode, entry.paid, entry.answered) == (
        "<b>Hi</b> &amp; welcome", "HTML", False, True,
    )  # fmt: skip
    assert sandbox.stats.accepted == 2


async def test_send_message__channel__sender_chat(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.world.set_chat(CHANNEL_CHAT_ID, ChatKind.CHANNEL)
    message = await bot.send_message(CHANNEL_CHAT_ID, "news")
    assert message.chat.type == "channel"
    assert message.sender_chat is not None
    assert message.sender_chat.id == CHANNEL_CHAT_ID


@pytest.mark.parametrize(
    ("chat_id", "kind", "state", "description"),
    [
        (PRIVATE_CHAT_ID, "private", "blocked", "Forbidden: bot was blocked by the user"),
        (PRIVATE_CHAT_ID, "private", "deactivated", "Forbidden: user is deactivated"),
        (GROUP_CHAT_ID, "group", "kicked", "Forbidden: bot was kicked from the group chat"),
        (SUPERGROUP_CHAT_ID, "supergroup", "kicked",
         "Forbidden: bot was kicked from the supergroup chat"),
        (CHANNEL_CHAT_ID, "channel", "not_member",
         "Forbidden: bot is not a member of the channel chat"),
    ],
)  # fmt: skip
async def test_send_message__unreachable_chat__forbidden(
    bot: Bot, sandbox: Sandbox, chat_id: int, kind: str, state: str, description: str
) -> None:
    sandbox.world.set_chat(chat_id, kind, state)
    with pytest.raises(TelegramForbiddenError) as caught:
        await bot.send_message(chat_id, "hello")
    assert caught.value.message == description
    assert sandbox.ledger == []
    assert sandbox.stats.errors[description] == 1


async def test_send_message__unknown_chat__chat_not_found(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(555, "hello")
    assert caught.value.message == "Bad Request: chat not found"


async def test_send_message__no_rights__bad_request(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.world.set_chat(SUPERGROUP_CHAT_ID, ChatKind.SUPERGROUP, ChatState.NO_RIGHTS)
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(SUPERGROUP_CHAT_ID, "hello")
    assert caught.value.message == (
        "Bad Request: not enough rights to send text messages to the chat"
    )


async def test_send_message__migrated_group__migrate_to_chat(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.world.set_chat(GROUP_CHAT_ID, ChatKind.GROUP, ChatState.MIGRATED, SUPERGROUP_CHAT_ID)
    with pytest.raises(TelegramMigrateToChat) as caught:
        await bot.send_message(GROUP_CHAT_ID, "hello")
    assert caught.value.migrate_to_chat_id == SUPERGROUP_CHAT_ID
    assert "group chat was upgraded to a supergroup chat" in caught.value.message
    message = await bot.send_message(caught.value.migrate_to_chat_id, "hello")
    assert message.chat.type == "supergroup"


@pytest.mark.parametrize(
    ("text", "parse_mode", "description"),
    [
        ("x" * 4097, None, "Bad Request: message is too long"),
        ("   ", None, "Bad Request: message text is empty"),
        ("<b>never closed", "HTML",
         "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""),
        ("Done.", "MarkdownV2", "Bad Request: can't parse entities: Character '.' is reserved "
         "and must be escaped with the preceding '\\'"),
        ("hi", "BBCode", "Bad Request: unsupported parse_mode"),
    ],
)  # fmt: skip
async def test_send_message__bad_content__bad_request(
    bot: Bot, text: str, parse_mode: str | None, description: str
) -> None:
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(PRIVATE_CHAT_ID, text, parse_mode=parse_mode)
    assert caught.value.message == description


async def test_send_message__html_at_limit__counts_text_not_tags(bot: Bot) -> None:
    message = await bot.send_message(PRIVATE_CHAT_ID, f"<b>{'x' * 4096}</b>", parse_mode="HTML")
    assert message.text is not None
    assert len(message.text) == 4096


async def test_call__revoked_bot__unauthorized(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.world.revoke_bot(bot.id)
    with pytest.raises(TelegramUnauthorizedError):
        await bot.get_me()
    with pytest.raises(TelegramUnauthorizedError):
        await bot.send_message(PRIVATE_CHAT_ID, "hello")


async def test_call__unknown_token__401_envelope(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as session:
        response = await session.get(f"{sandbox.url}/bot123:{'a' * 35}/getMe")
        assert response.status == 401
        assert await response.json() == {
            "ok": False, "error_code": 401, "description": "Unauthorized",
        }  # fmt: skip


async def test_call__unknown_method__404(sandbox: Sandbox, bot: Bot) -> None:
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{sandbox.url}/bot{bot.token}/sendTelepathy")
        assert response.status == 404
        assert (await response.json())["description"] == "Not Found"


async def test_call__json_body_and_any_case__accepted(sandbox: Sandbox, bot: Bot) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{sandbox.url}/bot{bot.token}/SENDMESSAGE"
        body = {"chat_id": PRIVATE_CHAT_ID, "text": "json", "allow_paid_broadcast": True}
        response = await session.post(url, json=body)
        answer = await response.json()
    assert answer["ok"] is True
    assert answer["result"]["text"] == "json"
    assert sandbox.ledger[-1].paid is True


async def test_call__query_string__accepted(sandbox: Sandbox, bot: Bot) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{sandbox.url}/bot{bot.token}/sendMessage"
        response = await session.get(url, params={"chat_id": PRIVATE_CHAT_ID, "text": "q"})
        assert (await response.json())["result"]["text"] == "q"


async def test_placeholders__answer_true_or_empty(bot: Bot) -> None:
    assert await bot.delete_webhook() is True
    assert await bot.get_updates() == []


async def test_second_bot__own_token__own_identity(
    sandbox: Sandbox, connect: Callable[[str], Bot]
) -> None:
    other = connect(sandbox.world.add_bot().token)
    message = await other.send_message(PRIVATE_CHAT_ID, "from the other bot")
    assert message.from_user is not None
    assert message.from_user.id == other.id
