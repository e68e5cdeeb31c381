"""The consent rules as a table: signal in, change and reply out."""

from __future__ import annotations

import pytest

from bulletin import models
from bulletin.config import ListenerSettings
from bulletin.subscriptions import (
    ChatInfo,
    Kind,
    Membership,
    MemberStatus,
    Migration,
    Text,
    decide,
    parse_command,
)

SETTINGS = ListenerSettings(welcome_text="hi", stop_confirmation="bye", stop_keywords=("Stop",))
PERSON = ChatInfo(42, models.ChatType.PRIVATE, first_name="Ann", username="ann", language_code="en")
GROUP = ChatInfo(-1001, models.ChatType.SUPERGROUP, title="Readers")
CHANNEL = ChatInfo(-1002, models.ChatType.CHANNEL, title="News")
S = MemberStatus


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start", ("start", "")),
        ("/start spring_promo", ("start", "spring_promo")),
        ("/START@my_bot  ad_7 ", ("start", "ad_7")),
        ("/stop", ("stop", "")),
        ("hello", (None, "")),
        ("/", (None, "")),
    ],
)
def test_parse_command__forms(text: str, expected: tuple[str | None, str]) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "kind", "source", "reply"),
    [
        ("/start", Kind.SUBSCRIBE, "start", "hi"),
        ("/start spring_promo", Kind.SUBSCRIBE, "spring_promo", "hi"),
        ("/start " + "x" * 100, Kind.SUBSCRIBE, "x" * 64, "hi"),
        ("/stop", Kind.UNSUBSCRIBE, None, "bye"),
        (" STOP ", Kind.UNSUBSCRIBE, None, "bye"),
        ("please stop", None, None, None),
        ("/help", None, None, None),
    ],
)
def test_decide__private_text(
    text: str, kind: Kind | None, source: str | None, reply: str | None
) -> None:
    decision = decide(Text(PERSON, text), SETTINGS)
    assert (decision.change.kind if decision.change else None) == kind
    assert (decision.change.source if decision.change else None) == source
    assert decision.reply == reply


def test_decide__stop__keeps_only_the_chat_id() -> None:
    decision = decide(Text(PERSON, "/stop"), SETTINGS)
    assert decision.change is not None
    assert decision.change.chat == ChatInfo(42, models.ChatType.PRIVATE)


def test_decide__commands_in_groups__ignored() -> None:
    assert decide(Text(GROUP, "/stop"), SETTINGS).change is None
    assert decide(Text(GROUP, "/start"), SETTINGS).change is None


def test_decide__empty_texts__no_reply() -> None:
    quiet = ListenerSettings(welcome_text="", stop_confirmation="")
    assert decide(Text(PERSON, "/start"), quiet).reply is None
    assert decide(Text(PERSON, "/stop"), quiet).reply is None


@pytest.mark.parametrize(
    ("chat", "previous", "current", "can_post", "kind", "flag"),
    [
        (PERSON, S.MEMBER, S.KICKED, False, Kind.BLOCK, "bot may not post in this chat"),
        (PERSON, S.KICKED, S.MEMBER, True, Kind.UNBLOCK, None),
        (GROUP, S.LEFT, S.MEMBER, True, Kind.SUBSCRIBE, None),
        (GROUP, S.LEFT, S.RESTRICTED, False, Kind.SUBSCRIBE, "bot may not post in this chat"),
        (CHANNEL, S.LEFT, S.ADMINISTRATOR, True, Kind.SUBSCRIBE, None),
        (GROUP, S.MEMBER, S.ADMINISTRATOR, True, Kind.RIGHTS, None),
        (GROUP, S.MEMBER, S.RESTRICTED, False, Kind.RIGHTS, "bot may not post in this chat"),
        (GROUP, S.MEMBER, S.KICKED, False, Kind.GONE, None),
        (CHANNEL, S.ADMINISTRATOR, S.LEFT, False, Kind.GONE, None),
    ],
)
def test_decide__membership(
    chat: ChatInfo,
    previous: MemberStatus,
    current: MemberStatus,
    can_post: bool,
    kind: Kind,
    flag: str | None,
) -> None:
    decision = decide(Membership(chat, previous, current, can_post), SETTINGS)
    assert decision.change is not None
    assert decision.change.kind is kind
    assert decision.reply is None
    if kind in (Kind.SUBSCRIBE, Kind.RIGHTS):
        assert decision.change.flag == flag
        assert decision.change.can_post is can_post


def test_decide__private_member_to_member__nothing() -> None:
    assert decide(Membership(PERSON, S.MEMBER, S.MEMBER, True), SETTINGS).change is None


def test_decide__migration__moves_the_old_id() -> None:
    change = decide(Migration(-4001, -1004001), SETTINGS).change
    assert change is not None
    assert (change.kind, change.chat.chat_id, change.new_chat_id) == (Kind.MIGRATE, -4001, -1004001)


def test_decide__nothing__nothing() -> None:
    assert decide(None, SETTINGS).change is None


def test_listener_settings__keywords_from_the_environment__comma_separated() -> None:
    settings = ListenerSettings.model_validate({"stop_keywords": "stop, Cancel ,,"})
    assert settings.stop_keywords == ("stop", "Cancel")
