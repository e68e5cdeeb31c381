"""The world: generation from a seed, tokens, chats and the audience file."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from bulletin.sandbox import ChatKind, ChatState, World


def test_generate__same_seed__same_world() -> None:
    first = World.generate(users=50, groups=3, blocked=0.1, gone=0.1, seed=3)
    second = World.generate(users=50, groups=3, blocked=0.1, gone=0.1, seed=3)
    assert first.audience_rows() == second.audience_rows()
    assert {c.id: c.state for c in first.chats.values()} == {
        c.id: c.state for c in second.chats.values()
    }


def test_generate__fractions__exact_counts() -> None:
    world = World.generate(users=100, blocked=0.1, gone=0.05, deactivated=0.02, seed=1)
    states = [chat.state for chat in world.chats.values()]
    assert len(world.audience_rows()) == 100
    assert len(world.chats) == 95
    assert states.count(ChatState.BLOCKED) == 10
    assert states.count(ChatState.DEACTIVATED) == 2


def test_generate__ids__users_then_supergroups() -> None:
    world = World.generate(users=3, groups=2)
    ids = [row["chat_id"] for row in world.audience_rows()]
    assert ids == [100000001, 100000002, 100000003, -1001000000001, -1001000000002]
    assert world.chats[-1001000000001].kind is ChatKind.SUPERGROUP


def test_generate__languages__mixed() -> None:
    world = World.generate(users=200, seed=5)
    languages = {row["language_code"] for row in world.audience_rows()}
    assert {"en", "de", "es", "ru"} <= languages


def test_write_audience_csv__header_and_rows(tmp_path: Path) -> None:
    world = World.generate(users=4, groups=1, gone=0.25)
    path = tmp_path / "audience.csv"
    world.write_audience_csv(path)
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert path.read_text().splitlines()[0] == "chat_id,first_name,username,language_code"
    assert [int(row["chat_id"]) for row in rows] == [r["chat_id"] for r in world.audience_rows()]


def test_add_bot__generated_token__telegram_format() -> None:
    bot = World().add_bot(rate_per_s=10)
    assert re.fullmatch(rf"{bot.id}:[A-Za-z0-9_-]{{35}}", bot.token)
    assert bot.rate_per_s == 10


def test_add_bot__given_token__id_from_token() -> None:
    world = World()
    bot = world.add_bot(token="123456:" + "a" * 35)
    assert bot.id == 123456
    with pytest.raises(ValueError, match="already exists"):
        world.add_bot(token="123456:" + "b" * 35)


def test_bot_by_token__wrong_secret_or_revoked__none() -> None:
    world = World()
    bot = world.add_bot()
    assert world.bot_by_token(bot.token) is bot
    assert world.bot_by_token(f"{bot.id}:{'x' * 35}") is None
    world.revoke_bot(bot.id)
    assert world.bot_by_token(bot.token) is None


def test_set_chat__migrated_without_target__new_reachable_supergroup() -> None:
    world = World()
    chat = world.set_chat(-4000001, "group", "migrated")
    assert chat.migrate_to is not None
    target = world.chats[chat.migrate_to]
    assert (target.kind, target.state) == (ChatKind.SUPERGROUP, ChatState.REACHABLE)
