"""What people and admins do in Telegram: each action changes the world and queues the
update the bot would receive, so sendMessage answers follow what the bot was told."""

from __future__ import annotations

from dataclasses import dataclass, field

from bulletin.sandbox.updates import Updates, now
from bulletin.sandbox.world import Bot, Chat, ChatKind, ChatState, World

ADMIN_USER = {"id": 99_000_001, "is_bot": False, "first_name": "Admin", "username": "chat_admin"}

# A ChatMemberAdministrator's rights; Telegram sends every one of them.
ADMIN_RIGHTS = (
    "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
    "can_manage_video_chats", "can_restrict_members", "can_promote_members", "can_change_info",
    "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories",
    "can_send_welcome_messages",
)  # fmt: skip
# A ChatMemberRestricted's permissions besides can_send_messages.
RESTRICTED_PERMISSIONS = (
    "can_send_audios", "can_send_documents", "can_send_photos", "can_send_videos",
    "can_send_video_notes", "can_send_voice_notes", "can_send_polls", "can_send_other_messages",
    "can_add_web_page_previews", "can_react_to_messages", "can_edit_tag", "can_change_info",
    "can_invite_users", "can_pin_messages", "can_manage_topics",
)  # fmt: skip


@dataclass
class Actions:
    """Scripted user and admin actions towards the bots of a world."""

    world: World
    updates: Updates
    # The bot's membership status in each chat, as Telegram would report it next.
    membership: dict[tuple[int, int], dict[str, object]] = field(default_factory=dict)
    next_message_id: int = 1

    def send_text(self, bot_id: int, user_id: int, text: str) -> int | None:
        """A person writes to the bot in their private chat."""
        chat = self._private_chat(user_id)
        return self._message(bot_id, chat, {"text": text, **_command_entity(text)})

    def start(self, bot_id: int, user_id: int, payload: str = "") -> int | None:
        """A person presses Start (through t.me/bot?start=payload); unblocks first if needed."""
        if self.membership.get((bot_id, user_id), {}).get("status") == "kicked":
            self.unblock(bot_id, user_id)
        return self.send_text(bot_id, user_id, f"/start {payload}".strip())

    def stop(self, bot_id: int, user_id: int) -> int | None:
        return self.send_text(bot_id, user_id, "/stop")

    def block(self, bot_id: int, user_id: int) -> int | None:
        """A person blocks the bot: sendMessage to them answers 403 from now on."""
        chat = self._private_chat(user_id)
        chat.state = ChatState.BLOCKED
        return self._member_change(bot_id, chat, {"status": "kicked", "until_date": 0})

    def unblock(self, bot_id: int, user_id: int) -> int | None:
        """A person unblocks the bot without pressing Start."""
        chat = self._private_chat(user_id)
        chat.state = ChatState.REACHABLE
        return self._member_change(bot_id, chat, {"status": "member"})

    def add_to_chat(
        self,
        bot_id: int,
        chat_id: int,
        kind: ChatKind | str = ChatKind.SUPERGROUP,
        title: str = "",
        admin: bool = False,
        can_post: bool = True,
    ) -> int | None:
        """An admin adds the bot to a group, supergroup or channel."""
        chat = self.world.set_chat(chat_id, ChatKind(kind))
        chat.title = title or chat.title
        return self.change_rights(bot_id, chat_id, admin=admin, can_post=can_post)

    def change_rights(
        self, bot_id: int, chat_id: int, admin: bool = False, can_post: bool = True
    ) -> int | None:
        """An admin promotes, demotes or restricts the bot in a chat."""
        chat = self._chat(chat_id)
        chat.state = ChatState.REACHABLE if can_post else ChatState.NO_RIGHTS
        return self._member_change(bot_id, chat, _member(chat.kind, admin, can_post))

    def remove_from_chat(self, bot_id: int, chat_id: int, kicked: bool = True) -> int | None:
        """An admin removes (kicks) the bot, or the bot is made to leave."""
        chat = self._chat(chat_id)
        chat.state = ChatState.KICKED if kicked else ChatState.NOT_MEMBER
        status: dict[str, object] = {"status": "kicked", "until_date": 0}
        if not kicked:
            status = {"status": "left"}
        return self._member_change(bot_id, chat, status)

    def migrate(self, bot_id: int, chat_id: int, new_chat_id: int) -> list[int | None]:
        """A group becomes a supergroup: one service message in each of the two chats."""
        old = self._chat(chat_id)
        self.world.set_chat(chat_id, ChatKind.GROUP, ChatState.MIGRATED, migrate_to=new_chat_id)
        new = self._chat(new_chat_id)
        new.kind, new.title = ChatKind.SUPERGROUP, old.title
        self.membership[(bot_id, new_chat_id)] = self.membership.get(
            (bot_id, chat_id), {"status": "member"}
        )
        return [
            self._message(bot_id, old, {"migrate_to_chat_id": new_chat_id}, ADMIN_USER),
            self._message(bot_id, new, {"migrate_from_chat_id": chat_id}, ADMIN_USER),
        ]

    def _private_chat(self, user_id: int) -> Chat:
        chat = self.world.chats.get(user_id)
        if chat is None:
            chat = self.world.set_chat(user_id, ChatKind.PRIVATE)
        return chat

    def _chat(self, chat_id: int) -> Chat:
        chat = self.world.chats.get(chat_id)
        if chat is None:
            raise KeyError(f"chat {chat_id} not found")
        return chat

    def _bot(self, bot_id: int) -> Bot:
        bot = self.world.bots.get(bot_id)
        if bot is None:
            raise KeyError(f"bot {bot_id} not found")
        return bot

    def _message(
        self,
        bot_id: int,
        chat: Chat,
        content: dict[str, object],
        sender: dict[str, object] | None = None,
    ) -> int | None:
        self._bot(bot_id)
        message_id, self.next_message_id = self.next_message_id, self.next_message_id + 1
        message = {
            "message_id": message_id,
            "from": sender or _person(chat),
            "chat": chat.described(),
            "date": now(),
            **content,
        }
        return self.updates.queue(bot_id).push("message", message)

    def _member_change(self, bot_id: int, chat: Chat, new: dict[str, object]) -> int | None:
        bot = self._bot(bot_id)
        key = (bot_id, chat.id)
        default = "member" if chat.kind is ChatKind.PRIVATE else "left"
        old = self.membership.get(key, {"status": default})
        self.membership[key] = new
        update = {
            "chat": chat.described(),
            "from": _person(chat) if chat.kind is ChatKind.PRIVATE else ADMIN_USER,
            "date": now(),
            "old_chat_member": {**old, "user": bot.user()},
            "new_chat_member": {**new, "user": bot.user()},
        }
        return self.updates.queue(bot_id).push("my_chat_member", update)


def _person(chat: Chat) -> dict[str, object]:
    person: dict[str, object] = {"id": chat.id, "is_bot": False, "first_name": chat.first_name}
    if chat.username:
        person["username"] = chat.username
    if chat.language_code:
        person["language_code"] = chat.language_code
    return person


def _command_entity(text: str) -> dict[str, object]:
    if not text.startswith("/"):
        return {}
    length = len(text.split(" ", 1)[0])
    return {"entities": [{"type": "bot_command", "offset": 0, "length": length}]}


def _member(kind: ChatKind, admin: bool, can_post: bool) -> dict[str, object]:
    """The bot's ChatMember: an administrator, a plain member, or restricted from posting."""
    if admin or kind is ChatKind.CHANNEL:
        rights: dict[str, object] = dict.fromkeys(ADMIN_RIGHTS, False)
        rights.update(can_manage_chat=True, can_post_messages=can_post, can_edit_messages=True)
        return {"status": "administrator", **rights}
    if can_post:
        return {"status": "member"}
    permissions: dict[str, object] = dict.fromkeys(RESTRICTED_PERMISSIONS, False)
    return {
        "status": "restricted",
        "is_member": True,
        "can_send_messages": False,
        "until_date": 0,
        **permissions,
    }
