"""The Bot API methods the sandbox answers, checked in Telegram's order."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bulletin.sandbox import answers, inbox, markup
from bulletin.sandbox.faults import Fault, Faults
from bulletin.sandbox.ledger import LedgerEntry, Stats, optional_fields
from bulletin.sandbox.limits import Limiter, LimitKind
from bulletin.sandbox.updates import Updates
from bulletin.sandbox.world import Bot, Chat, ChatKind, ChatState, World

MESSAGE_LENGTH_LIMIT = 4096

Params = Mapping[str, object]
Compose = Callable[["Bot", Params], tuple[LedgerEntry, object]]


@dataclass
class Outcome:
    """The HTTP answer to one Bot API call, and how long to hold it back."""

    status: int
    body: dict[str, object]
    delay_s: float = 0.0
    entry: LedgerEntry | None = None
    poll: inbox.Poll | None = None  # a long poll: answer when updates arrive or it times out


class BotApi:
    """Answers Bot API calls against a world, its limits and its faults."""

    def __init__(self, world: World, faults: Faults, limiter: Limiter) -> None:
        self.world = world
        self.faults = faults
        self.limiter = limiter
        self.ledger: list[LedgerEntry] = []
        self.stats = Stats()
        self.updates = Updates()

    def call(self, token: str, method: str, params: Params) -> Outcome:
        """Answer one call of a method with a token and its parameters."""
        self.stats.requests += 1
        try:
            bot = self.world.bot_by_token(token)
            if bot is None:
                raise answers.unauthorized()
            handler = HANDLERS.get(method.lower())
            if handler is None:
                raise answers.not_found()
            return handler(self, bot, params)
        except answers.ApiError as error:
            return self._failure(error)

    def get_me(self, bot: Bot, params: Params) -> Outcome:
        """Answer getMe with the bot's User object."""
        return Outcome(200, answers.success(bot.user()))

    def get_updates(self, bot: Bot, params: Params) -> Outcome:
        """Answer getUpdates with the bot's queued updates, or hold a long poll."""
        found, poll = inbox.get_updates(self.updates.queue(bot.id), params)
        return Outcome(200, answers.success(found), poll=poll)

    async def finish_poll(self, poll: inbox.Poll) -> Outcome:
        """Answer a held long poll once updates arrive, it times out, or another replaces it."""
        try:
            return Outcome(200, answers.success(await inbox.finish(poll)))
        except answers.ApiError as error:
            return self._failure(error)

    def set_webhook(self, bot: Bot, params: Params) -> Outcome:
        """Answer setWebhook: updates are pushed to the URL from now on."""
        description = inbox.set_webhook(self.updates.queue(bot.id), params)
        return Outcome(200, {**answers.success(True), "description": description})

    def delete_webhook(self, bot: Bot, params: Params) -> Outcome:
        """Answer deleteWebhook: updates wait for getUpdates again."""
        description = inbox.delete_webhook(self.updates.queue(bot.id), params)
        return Outcome(200, {**answers.success(True), "description": description})

    def get_webhook_info(self, bot: Bot, params: Params) -> Outcome:
        """Answer getWebhookInfo with the bot's webhook and pending updates."""
        return Outcome(200, answers.success(inbox.webhook_info(self.updates.queue(bot.id))))

    def acknowledge(self, bot: Bot, params: Params) -> Outcome:
        """Answer a method whose only result is true."""
        return Outcome(200, answers.success(True))

    def send_message(self, bot: Bot, params: Params) -> Outcome:
        """Answer sendMessage: faults, then limits, chat, content, and the ledger."""
        return self.respond(bot, params, self._send)

    def respond(self, bot: Bot, params: Params, compose: Compose) -> Outcome:
        """Answer a sending method: draw a fault, then compose the message and its ledger entry."""
        fault = self.faults.draw()
        if fault.slow_s:
            self.stats.slow += 1
        try:
            if fault.error_status and not fault.record_then_fail:
                raise answers.server_error(fault.error_status)
            entry, message = compose(bot, params)
        except answers.ApiError as error:
            return self._failure(error, fault.slow_s)
        return self._delivered(entry, message, fault)

    def _send(self, bot: Bot, params: Params) -> tuple[LedgerEntry, dict[str, object]]:
        chat_key = _chat_key(params)
        paid = _flag(params, "allow_paid_broadcast")
        self._admit(bot, chat_key, paid)
        chat = self._reachable_chat(chat_key)
        parse_mode = _text(params, "parse_mode") or None
        text = _text(params, "text") or ""
        plain = _checked_text(text, parse_mode)
        _check_reply_markup(params)
        entry = LedgerEntry(
            bot.id, chat.id, chat.next_message_id(), text, parse_mode, paid, time.time(),
            fields=optional_fields(params),
        )  # fmt: skip
        self.ledger.append(entry)
        self.stats.accepted += 1
        return entry, _message(bot, chat, entry, plain)

    def _delivered(self, entry: LedgerEntry, message: object, fault: Fault) -> Outcome:
        if not fault.record_then_fail:
            return Outcome(200, answers.success(message), fault.slow_s, entry)
        entry.answered = False
        self.stats.record_then_fail += 1
        return self._failure(answers.server_error(500), fault.slow_s)

    def _admit(self, bot: Bot, chat_key: int | str, paid: bool) -> None:
        rate_per_s = bot.paid_rate_per_s if paid else bot.rate_per_s
        known = self.world.chats.get(chat_key) if isinstance(chat_key, int) else None
        private = known.kind is ChatKind.PRIVATE if known else _positive(chat_key)
        refusal = self.limiter.admit(bot.id, rate_per_s, chat_key, private=private, paid=paid)
        if refusal is None:
            return
        if refusal.kind is LimitKind.CHAT:
            self.stats.chat_limit_429 += 1
        else:
            self.stats.bot_limit_429 += 1
        if refusal.kind is LimitKind.PENALTY:
            self.stats.requests_during_retry_after += 1
        raise answers.too_many_requests(refusal.retry_after)

    def _reachable_chat(self, chat_key: int | str) -> Chat:
        chat = self._find_chat(chat_key)
        if chat is None:
            raise answers.bad_request("chat not found")
        error = _state_error(chat)
        if error is not None:
            raise error
        return chat

    def _find_chat(self, chat_key: int | str) -> Chat | None:
        if isinstance(chat_key, int):
            return self.world.chats.get(chat_key)
        username = chat_key.removeprefix("@").lower()
        chats = self.world.chats.values()
        return next((c for c in chats if c.username.lower() == username and username), None)

    def _failure(self, error: answers.ApiError, delay_s: float = 0.0) -> Outcome:
        self.stats.errors[error.description] += 1
        if error.error_code == 429:
            self.stats.too_many_requests += 1
        if error.error_code >= 500:
            self.stats.errors_5xx += 1
        return Outcome(error.error_code, error.envelope(), delay_s)


Handler = Callable[[BotApi, Bot, Params], Outcome]
HANDLERS: dict[str, Handler] = {
    "getme": BotApi.get_me,
    "sendmessage": BotApi.send_message,
    "getupdates": BotApi.get_updates,
    "getwebhookinfo": BotApi.get_webhook_info,
    "setwebhook": BotApi.set_webhook,
    "deletewebhook": BotApi.delete_webhook,
    "close": BotApi.acknowledge,
    "logout": BotApi.acknowledge,
}


def _media_handlers() -> dict[str, Handler]:
    # sendPhoto … sendMediaGroup, copyMessage and getFile build on this module.
    from bulletin.sandbox import media

    return media.HANDLERS


HANDLERS.update(_media_handlers())


def _state_error(chat: Chat) -> answers.ApiError | None:
    """Return the answer a chat in a non-reachable state gives, as Telegram words it."""
    kind = chat.kind.value
    private = chat.kind is ChatKind.PRIVATE
    match chat.state:
        case ChatState.REACHABLE:
            return None
        case ChatState.BLOCKED:
            return answers.forbidden("bot was blocked by the user")
        case ChatState.DEACTIVATED:
            return answers.forbidden("user is deactivated")
        case ChatState.KICKED if private:
            return answers.forbidden("bot was blocked by the user")
        case ChatState.KICKED:
            return answers.forbidden(f"bot was kicked from the {kind} chat")
        case ChatState.NOT_MEMBER if private:
            return answers.forbidden("bot can't initiate conversation with a user")
        case ChatState.NOT_MEMBER:
            return answers.forbidden(f"bot is not a member of the {kind} chat")
        case ChatState.NO_RIGHTS:
            return answers.bad_request("not enough rights to send text messages to the chat")
        case ChatState.MIGRATED:
            return _migrated(chat)


def _migrated(chat: Chat) -> answers.ApiError:
    parameters = {"migrate_to_chat_id": chat.migrate_to} if chat.migrate_to else {}
    description = "Bad Request: group chat was upgraded to a supergroup chat"
    return answers.ApiError(400, description, parameters)


def _checked_text(text: str, parse_mode: str | None) -> str:
    """Return the plain text of a message, or raise the content error Telegram gives."""
    if not text.strip():
        raise answers.bad_request("message text is empty")
    plain = markup.plain_text(text, parse_mode)
    if not plain.strip():
        raise answers.bad_request("message text is empty")
    if len(plain) > MESSAGE_LENGTH_LIMIT:
        raise answers.bad_request("message is too long")
    return plain


def _check_reply_markup(params: Params) -> None:
    reply_markup = params.get("reply_markup")
    if isinstance(reply_markup, str):
        try:
            json.loads(reply_markup)
        except ValueError:
            raise answers.bad_request("can't parse reply keyboard markup JSON object") from None


def _message(bot: Bot, chat: Chat, entry: LedgerEntry, plain: str) -> dict[str, object]:
    """Return a Bot API Message; channel posts carry sender_chat instead of from."""
    message: dict[str, object] = {
        "message_id": entry.message_id,
        "date": int(entry.at),
        "chat": chat.described(),
        "text": plain,
    }
    if chat.kind is ChatKind.CHANNEL:
        message["sender_chat"] = chat.described()
    else:
        message["from"] = bot.user()
    return message


def _text(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flag(params: Params, name: str) -> bool:
    return (_text(params, name) or "").lower() in {"true", "1"}


def _chat_key(params: Params) -> int | str:
    """Return the chat id as an int, or a "@username" as given."""
    value = (_text(params, "chat_id") or "").strip()
    if not value:
        raise answers.bad_request("chat_id is empty")
    try:
        return int(value)
    except ValueError:
        if value.startswith("@"):
            return value
        raise answers.bad_request("chat not found") from None


def _positive(chat_key: int | str) -> bool:
    return isinstance(chat_key, int) and chat_key > 0
