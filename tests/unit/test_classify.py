"""Tests for the map from Bot API failures to what bulletin does next."""

from __future__ import annotations

import json

import pytest
from aiogram import exceptions as tg
from aiogram.methods import SendMessage

from bulletin.telegram import classify as classify_module
from bulletin.telegram.classify import Action, Outcome, classify, sent

METHOD = SendMessage(chat_id=1, text="x")


def forbidden(description: str) -> tg.TelegramForbiddenError:
    return tg.TelegramForbiddenError(method=METHOD, message=description)


def bad_request(description: str) -> tg.TelegramBadRequest:
    return tg.TelegramBadRequest(method=METHOD, message=description)


def table_cases(table: tuple[str, ...], prefix: str, action: Action) -> list[pytest.ParameterSet]:
    """One case per fragment of a module table, as Telegram would phrase it."""
    return [
        pytest.param(f"{prefix}: {fragment}", action, id=f"{prefix}-{fragment}")
        for fragment in table
    ]


# ───────────────────────────── 403 Forbidden ─────────────────────────────

FORBIDDEN_CASES = [
    *table_cases(classify_module._FORBIDDEN_BLOCKED, "Forbidden", Action.BLOCKED),
    *table_cases(classify_module._FORBIDDEN_GONE, "Forbidden", Action.GONE),
    pytest.param("Forbidden: bot was blocked by the user", Action.BLOCKED, id="blocked"),
    pytest.param("Forbidden: user is deactivated", Action.BLOCKED, id="deactivated"),
    pytest.param("Forbidden: bot was kicked from the group chat", Action.GONE, id="kicked-group"),
    pytest.param(
        "Forbidden: bot was kicked from the supergroup chat", Action.GONE, id="kicked-supergroup"
    ),
    pytest.param(
        "Forbidden: bot is not a member of the channel chat", Action.GONE, id="not-member-channel"
    ),
    pytest.param(
        "Forbidden: bot is not a member of the supergroup chat",
        Action.GONE,
        id="not-member-supergroup",
    ),
    pytest.param(
        "Forbidden: bot can't initiate conversation with a user", Action.GONE, id="cant-initiate"
    ),
    pytest.param("Forbidden: the group chat was deleted", Action.GONE, id="group-deleted"),
    pytest.param(
        "Forbidden: not enough rights to send text messages to the chat",
        Action.NO_RIGHTS,
        id="not-enough-rights",
    ),
    pytest.param("Forbidden: have no rights to send a message", Action.NO_RIGHTS, id="no-rights"),
    pytest.param("Forbidden: bot can't send messages to bots", Action.REJECTED, id="unknown"),
    pytest.param("", Action.REJECTED, id="empty"),
]


@pytest.mark.parametrize(("description", "expected"), FORBIDDEN_CASES)
def test_classify__forbidden__by_description(description: str, expected: Action) -> None:
    outcome = classify(forbidden(description))

    assert outcome == Outcome(expected, description)


def test_classify__blocked_by_user__blocked() -> None:
    outcome = classify(forbidden("Forbidden: bot was blocked by the user"))

    assert outcome.action is Action.BLOCKED
    assert outcome.description == "Forbidden: bot was blocked by the user"


def test_classify__forbidden_description_case__ignored() -> None:
    assert classify(forbidden("FORBIDDEN: BOT WAS BLOCKED BY THE USER")).action is Action.BLOCKED


# ───────────────────────────── 400 Bad Request ─────────────────────────────

BAD_REQUEST_CASES = [
    *table_cases(classify_module._BAD_REQUEST_GONE, "Bad Request", Action.GONE),
    *table_cases(classify_module._BAD_REQUEST_NO_RIGHTS, "Bad Request", Action.NO_RIGHTS),
    *table_cases(classify_module._BAD_REQUEST_CONTENT, "Bad Request", Action.CONTENT_ERROR),
    pytest.param("Bad Request: chat not found", Action.GONE, id="chat-not-found"),
    pytest.param("Bad Request: PEER_ID_INVALID", Action.GONE, id="peer-id-invalid-upper"),
    pytest.param(
        "Bad Request: not enough rights to send text messages to the chat",
        Action.NO_RIGHTS,
        id="not-enough-rights",
    ),
    pytest.param("Bad Request: CHAT_WRITE_FORBIDDEN", Action.NO_RIGHTS, id="write-forbidden"),
    pytest.param("Bad Request: message is too long", Action.CONTENT_ERROR, id="too-long"),
    pytest.param(
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        Action.CONTENT_ERROR,
        id="parse-entities",
    ),
    pytest.param("Bad Request: message text is empty", Action.CONTENT_ERROR, id="text-empty"),
    pytest.param("Bad Request: BUTTON_URL_INVALID", Action.CONTENT_ERROR, id="button-url"),
    pytest.param("Bad Request: message to reply not found", Action.REJECTED, id="unknown"),
    pytest.param("Bad Request: something new from Telegram", Action.REJECTED, id="unknown-2"),
]


@pytest.mark.parametrize(("description", "expected"), BAD_REQUEST_CASES)
def test_classify__bad_request__by_description(description: str, expected: Action) -> None:
    outcome = classify(bad_request(description))

    assert outcome == Outcome(expected, description)


def test_classify__tables__every_fragment_lower_case() -> None:
    tables = [
        classify_module._FORBIDDEN_BLOCKED,
        classify_module._FORBIDDEN_GONE,
        classify_module._BAD_REQUEST_GONE,
        classify_module._BAD_REQUEST_NO_RIGHTS,
        classify_module._BAD_REQUEST_CONTENT,
    ]

    # Descriptions are lower-cased before matching: an upper-case fragment never matches.
    assert [f for table in tables for f in table if f != f.lower()] == []


# ───────────────────────────── other API answers ─────────────────────────────


def test_classify__retry_after__rate_limited_with_delay() -> None:
    error = tg.TelegramRetryAfter(
        method=METHOD, message="Too Many Requests: retry after 5", retry_after=5
    )

    outcome = classify(error)

    assert outcome.action is Action.RATE_LIMITED
    assert outcome.retry_after_s == 5.0
    assert isinstance(outcome.retry_after_s, float)
    assert "Too Many Requests: retry after 5" in outcome.description


def test_classify__migrate_to_chat__migrated_with_new_id() -> None:
    error = tg.TelegramMigrateToChat(
        method=METHOD,
        message="Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=-100123,
    )

    outcome = classify(error)

    assert outcome.action is Action.MIGRATED
    assert outcome.migrate_to_chat_id == -100123


def test_classify__unauthorized__bot_revoked() -> None:
    outcome = classify(tg.TelegramUnauthorizedError(method=METHOD, message="Unauthorized"))

    assert outcome == Outcome(Action.BOT_REVOKED, "Unauthorized")


def test_classify__entity_too_large__content_error() -> None:
    error = tg.TelegramEntityTooLarge(method=METHOD, message="Request Entity Too Large")
    assert isinstance(error, tg.TelegramNetworkError)  # the reason it needs its own case

    outcome = classify(error)

    assert outcome == Outcome(Action.CONTENT_ERROR, "Request Entity Too Large")


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(tg.TelegramNotFound(method=METHOD, message="Not Found"), id="404"),
        pytest.param(tg.TelegramConflictError(method=METHOD, message="Conflict"), id="409"),
    ],
)
def test_classify__not_found_or_conflict__rejected(error: tg.TelegramAPIError) -> None:
    assert classify(error).action is Action.REJECTED


# ───────────────────────────── transport failures ─────────────────────────────

TRANSIENT_CASES = [
    pytest.param(tg.TelegramServerError(method=METHOD, message="Internal Server Error"), id="5xx"),
    pytest.param(tg.RestartingTelegram(method=METHOD, message="Restarting"), id="restarting"),
    pytest.param(
        tg.TelegramNetworkError(method=METHOD, message="ClientConnectorError: refused"),
        id="network",
    ),
    pytest.param(tg.TelegramAPIError(method=METHOD, message="Too Many Requests"), id="other-api"),
    pytest.param(
        tg.ClientDecodeError("Failed to decode object", json.JSONDecodeError("x", "<", 0), "<"),
        id="decode",
    ),
    pytest.param(TimeoutError(), id="timeout"),
    pytest.param(OSError("network is unreachable"), id="oserror"),
    pytest.param(ConnectionResetError(104, "Connection reset by peer"), id="reset"),
]


@pytest.mark.parametrize("error", TRANSIENT_CASES)
def test_classify__transport_failure__retry(error: BaseException) -> None:
    outcome = classify(error)

    assert outcome.action is Action.RETRY
    assert outcome.description.startswith(type(error).__name__)
    assert "\n" not in outcome.description


def test_classify__timeout_without_message__type_name() -> None:
    assert classify(TimeoutError()).description == "TimeoutError"


def test_classify__decode_error__first_line_only() -> None:
    error = tg.ClientDecodeError("Failed to decode object", ValueError("bad"), "<html>")

    assert classify(error).description == "ClientDecodeError: Failed to decode object"


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ValueError("a bug"), id="value-error"),
        pytest.param(KeyError("k"), id="key-error"),
        pytest.param(RuntimeError("boom"), id="runtime-error"),
    ],
)
def test_classify__not_a_telegram_failure__reraised(error: Exception) -> None:
    with pytest.raises(type(error)) as raised:
        classify(error)

    assert raised.value is error


def test_sent__message_id__sent_outcome() -> None:
    assert sent(42) == Outcome(Action.SENT, message_id=42)
