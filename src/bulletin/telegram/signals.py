"""aiogram's Update objects turned into the consent signals bulletin.subscriptions decides on."""

from __future__ import annotations

from aiogram import types

from bulletin import models
from bulletin.subscriptions import ChatInfo, Membership, MemberStatus, Migration, Signal, Text

# Everything the rules look at; a listener asks Telegram for these kinds only.
ALLOWED_UPDATES = ["message", "my_chat_member"]

# The kinds of update a listener counts by name (a fixed set: a metric label); else "other".
UPDATE_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "my_chat_member",
    "chat_member",
    "callback_query",
    "other",
)


def update_kind(update: types.Update) -> str:
    """The kind of an update, one of UPDATE_KINDS."""
    for kind in UPDATE_KINDS[:-1]:
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


def signal_of(update: types.Update) -> Signal | None:
    """The signal in an update, or None for anything the consent rules ignore."""
    if update.message is not None:
        return _message_signal(update.message)
    if update.my_chat_member is not None:
        return _membership_signal(update.my_chat_member)
    return None


def _message_signal(message: types.Message) -> Signal | None:
    if message.migrate_to_chat_id is not None:
        return Migration(message.chat.id, message.migrate_to_chat_id)
    if message.migrate_from_chat_id is not None:
        return Migration(message.migrate_from_chat_id, message.chat.id)
    chat = chat_info(message.chat, message.from_user)
    if message.text is None or chat is None:
        return None
    return Text(chat, message.text)


def _membership_signal(change: types.ChatMemberUpdated) -> Signal | None:
    chat = chat_info(change.chat, change.from_user if change.chat.type == "private" else None)
    if chat is None:
        return None
    return Membership(
        chat,
        previous=MemberStatus(change.old_chat_member.status),
        current=MemberStatus(change.new_chat_member.status),
        can_post=can_post(chat.chat_type, change.new_chat_member),
    )


def chat_info(chat: types.Chat, person: types.User | None) -> ChatInfo | None:
    """What bulletin keeps about a chat; a private chat's details come from its person."""
    try:
        chat_type = models.ChatType(chat.type)
    except ValueError:
        return None
    if chat_type is not models.ChatType.PRIVATE:
        return ChatInfo(chat.id, chat_type, username=chat.username, title=chat.title)
    return ChatInfo(
        chat.id,
        chat_type,
        first_name=person.first_name if person else chat.first_name,
        username=person.username if person else chat.username,
        language_code=person.language_code if person else None,
    )


def can_post(chat_type: models.ChatType, member: types.ChatMemberUnion) -> bool:
    """Whether the bot may send messages as this member of a chat of this type."""
    match member:
        case types.ChatMemberOwner():
            return True
        case types.ChatMemberAdministrator():
            return chat_type is not models.ChatType.CHANNEL or bool(member.can_post_messages)
        case types.ChatMemberMember():
            return chat_type is not models.ChatType.CHANNEL
        case types.ChatMemberRestricted():
            return member.is_member and member.can_send_messages
        case _:
            return False
