"""Every consent rule, by long polling and by webhook, against the sandbox and PostgreSQL."""

from __future__ import annotations

from bulletin.sandbox import ChatKind
from tests.listener.conftest import GOODBYE, WELCOME, Setup, listening

PERSON = 100_000_501
GROUP = -1_001_500_000_001
CHANNEL = -1_001_600_000_001
OLD_GROUP = -4_500_001


async def test_start__with_payload__subscribed_with_source_and_welcomed(
    setup: Setup, mode: str
) -> None:
    async with listening(setup, mode):
        await setup.processed(setup.sandbox.actions.start(setup.bot.id, PERSON, "spring_promo"))

    row = await setup.subscriber(PERSON)
    assert row is not None
    assert (row["status"], row["source"], row["chat_type"]) == (
        "subscribed", "spring_promo", "private",
    )  # fmt: skip
    assert row["first_name"] == f"User {PERSON}"
    assert await setup.events(PERSON) == ["subscriber.subscribed"]
    assert setup.replies(PERSON) == [WELCOME]


async def test_stop__command_and_keywords__unsubscribed_and_confirmed(
    setup: Setup, mode: str
) -> None:
    actions = setup.sandbox.actions
    async with listening(setup, mode):
        actions.start(setup.bot.id, PERSON)
        actions.stop(setup.bot.id, PERSON)
        actions.start(setup.bot.id, PERSON + 1)
        actions.send_text(setup.bot.id, PERSON + 1, "please stop sending me this")
        actions.start(setup.bot.id, PERSON + 2)
        await setup.processed(actions.send_text(setup.bot.id, PERSON + 2, "  UNSUBSCRIBE "))

    assert await setup.status(PERSON) == "unsubscribed"
    assert await setup.status(PERSON + 1) == "subscribed"
    assert await setup.status(PERSON + 2) == "unsubscribed"
    assert setup.replies(PERSON) == [WELCOME, GOODBYE]
    assert setup.replies(PERSON + 1) == [WELCOME]
    assert await setup.events(PERSON) == ["subscriber.subscribed", "subscriber.unsubscribed"]


async def test_stop__unknown_person__remembered_without_personal_details(
    setup: Setup, mode: str
) -> None:
    async with listening(setup, mode):
        await setup.processed(setup.sandbox.actions.stop(setup.bot.id, PERSON))

    row = await setup.subscriber(PERSON)
    assert row is not None
    assert row["status"] == "unsubscribed"
    assert (row["first_name"], row["username"], row["language_code"]) == (None, None, None)


async def test_block__blocked_and_unblock_alone_is_not_a_start(setup: Setup, mode: str) -> None:
    actions = setup.sandbox.actions
    async with listening(setup, mode):
        actions.start(setup.bot.id, PERSON)
        actions.block(setup.bot.id, PERSON)
        await setup.processed(actions.unblock(setup.bot.id, PERSON))
        after_unblock = await setup.subscriber(PERSON)
        await setup.processed(actions.start(setup.bot.id, PERSON, "came_back"))

    assert after_unblock is not None
    assert after_unblock["status"] == "blocked"
    row = await setup.subscriber(PERSON)
    assert row is not None
    assert (row["status"], row["source"]) == ("subscribed", "came_back")
    assert await setup.events(PERSON) == [
        "subscriber.subscribed",
        "subscriber.blocked",
        "subscriber.unblocked",
        "subscriber.subscribed",
    ]


async def test_groups_and_channels__added_rights_removed(setup: Setup, mode: str) -> None:
    actions, bot_id = setup.sandbox.actions, setup.bot.id
    async with listening(setup, mode):
        actions.add_to_chat(bot_id, GROUP, ChatKind.SUPERGROUP, "Readers")
        await setup.processed(actions.add_to_chat(bot_id, CHANNEL, ChatKind.CHANNEL, "News"))
        added = await setup.subscriber(GROUP)
        channel = await setup.subscriber(CHANNEL)
        await setup.processed(actions.change_rights(bot_id, GROUP, can_post=False))
        restricted = await setup.subscriber(GROUP)
        await setup.processed(actions.change_rights(bot_id, GROUP, admin=True, can_post=True))
        promoted = await setup.subscriber(GROUP)
        actions.remove_from_chat(bot_id, GROUP)
        await setup.processed(actions.remove_from_chat(bot_id, CHANNEL, kicked=False))

    assert added is not None
    assert channel is not None
    assert restricted is not None
    assert promoted is not None
    assert (added["status"], added["chat_type"], added["title"], added["can_post"]) == (
        "subscribed", "supergroup", "Readers", True,
    )  # fmt: skip
    assert (channel["chat_type"], channel["title"], channel["can_post"]) == (
        "channel", "News", True,
    )  # fmt: skip
    assert (restricted["status"], restricted["can_post"]) == ("subscribed", False)
    assert restricted["flagged"] == "bot may not post in this chat"
    assert (promoted["can_post"], promoted["flagged"]) == (True, None)
    assert await setup.status(GROUP) == "gone"
    assert await setup.status(CHANNEL) == "gone"
    assert await setup.events(GROUP) == [
        "subscriber.subscribed", "subscriber.rights", "subscriber.rights", "subscriber.gone",
    ]  # fmt: skip
    assert setup.replies(GROUP) == []


async def test_group_migration__subscriber_moves_to_the_supergroup_id(
    setup: Setup, mode: str
) -> None:
    actions = setup.sandbox.actions
    async with listening(setup, mode):
        actions.add_to_chat(setup.bot.id, OLD_GROUP, ChatKind.GROUP, "Club")
        ids = actions.migrate(setup.bot.id, OLD_GROUP, GROUP)
        await setup.processed(ids[-1])

    assert await setup.subscriber(OLD_GROUP) is None
    moved = await setup.subscriber(GROUP)
    assert moved is not None
    assert (moved["status"], moved["chat_type"], moved["title"]) == (
        "subscribed", "supergroup", "Club",
    )  # fmt: skip
    assert await setup.events(GROUP) == ["subscriber.migrated"]
