"""The one map from a Bot API answer (or failure to get one) to what bulletin does next."""

from __future__ import annotations

import dataclasses

from aiogram import exceptions as tg

from bulletin import redact
from bulletin.telegram.outcome import Action as Action
from bulletin.telegram.outcome import Outcome as Outcome

# Lower-case fragments of Telegram's descriptions, checked in order.
_FORBIDDEN_BLOCKED = ("bot was blocked by the user", "user is deactivated")
_FORBIDDEN_GONE = (
    "bot was kicked",
    "bot is not a member",
    "bot can't initiate conversation",
    "chat not found",
    "the group chat was deleted",
)
_BAD_REQUEST_GONE = (
    "chat not found",
    "user not found",
    "group chat was deactivated",
    "peer_id_invalid",
)
_BAD_REQUEST_NO_RIGHTS = (
    "not enough rights",
    "have no rights",
    "chat_write_forbidden",
    "chat_restricted",
)
_BAD_REQUEST_CONTENT = (
    "message is too long",
    "message text is empty",
    "can't parse entities",
    "unsupported parse_mode",
    "wrong file identifier",
    "wrong remote file",
    "failed to get http url content",
    "wrong type of the web page content",
    "caption is too long",
    "button_url_invalid",
    "entity_text_invalid",
    "text must be non-empty",
    "wrong http url",
    "unsupported url protocol",
    # media, albums and copies (issue 4)
    "there is no photo",
    "there is no video",
    "there is no animation",
    "there is no document",
    "there is no audio",
    "can't use file of type",
    "file must be non-empty",
    "file is too big",
    "photo_save_file_invalid",
    "message to copy not found",
    "there are no messages to send",
    "too many messages to send as an album",
    "can't be mixed with other media types",
    "can't parse inputmedia",
    "can't parse media json object",
)


def sent(message_id: int, file_ids: tuple[str, ...] = ()) -> Outcome:
    return Outcome(Action.SENT, message_id=message_id, file_ids=file_ids)


def classify(error: BaseException) -> Outcome:
    """What a failed Bot API call means for the delivery, the chat, the bot and the campaign."""
    outcome = _classify(error)
    # The description is stored and printed: no token in it, whoever's it is.
    return dataclasses.replace(outcome, description=redact.text(outcome.description))


def _classify(error: BaseException) -> Outcome:
    match error:
        case tg.TelegramRetryAfter():
            return Outcome(
                Action.RATE_LIMITED, error.message, retry_after_s=float(error.retry_after)
            )
        case tg.TelegramMigrateToChat():
            return Outcome(
                Action.MIGRATED, error.message, migrate_to_chat_id=error.migrate_to_chat_id
            )
        case tg.TelegramUnauthorizedError():
            return Outcome(Action.BOT_REVOKED, error.message)
        case tg.TelegramForbiddenError():
            return _forbidden(error.message)
        case tg.TelegramBadRequest():
            return _bad_request(error.message)
        case _:
            return _transport(error)


def _transport(error: BaseException) -> Outcome:
    """Failures to get an answer at all, and answers that make no sense: mostly transient."""
    match error:
        # TelegramEntityTooLarge subclasses TelegramNetworkError: it is a content error.
        case tg.TelegramEntityTooLarge():
            return Outcome(Action.CONTENT_ERROR, error.message)
        case tg.TelegramNotFound() | tg.TelegramConflictError():
            return Outcome(Action.REJECTED, error.message)
        case (
            tg.TelegramServerError()
            | tg.TelegramNetworkError()
            | tg.ClientDecodeError()
            | tg.TelegramAPIError()
            | TimeoutError()
            | OSError()
        ):
            return Outcome(Action.RETRY, _describe(error))
        case _:
            raise error


def _forbidden(description: str) -> Outcome:
    lowered = description.lower()
    if any(fragment in lowered for fragment in _FORBIDDEN_BLOCKED):
        return Outcome(Action.BLOCKED, description)
    if any(fragment in lowered for fragment in _FORBIDDEN_GONE):
        return Outcome(Action.GONE, description)
    if "not enough rights" in lowered or "have no rights" in lowered:
        return Outcome(Action.NO_RIGHTS, description)
    return Outcome(Action.REJECTED, description)


def _bad_request(description: str) -> Outcome:
    lowered = description.lower()
    if any(fragment in lowered for fragment in _BAD_REQUEST_GONE):
        return Outcome(Action.GONE, description)
    if any(fragment in lowered for fragment in _BAD_REQUEST_NO_RIGHTS):
        return Outcome(Action.NO_RIGHTS, description)
    if any(fragment in lowered for fragment in _BAD_REQUEST_CONTENT):
        return Outcome(Action.CONTENT_ERROR, description)
    return Outcome(Action.REJECTED, description)


def _describe(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
