"""Rich content delivered through the worker to the sandbox: the right method, fields, file reuse."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from bulletin import config, models
from bulletin.db import runs as run_rows
from bulletin.sandbox import ChatKind, Sandbox, World
from tests.support import (
    apply_campaign,
    deliver,
    import_records,
    import_world,
    register_bot,
    start_run,
)

RATE = 300.0
USERS = 40


async def delivered(pool: asyncpg.Pool, settings: config.Settings, name: str) -> models.Run:
    run = await start_run(pool, name, again=True)  # tests send one campaign more than once
    await deliver(pool, settings, [run.id])
    async with pool.acquire() as connection:
        return await run_rows.get(connection, run.id)


@pytest.fixture
def world() -> World:
    return World.generate(USERS, seed=21)


async def test_text__buttons_flags_preview__sent_as_designed(
    settings: config.Settings, pool: asyncpg.Pool, world: World, tmp_path: Path
) -> None:
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "news", RATE)
        await import_world(pool, world, bot, tmp_path)
        await apply_campaign(pool, TEXT_CAMPAIGN, tmp_path)

        run = await delivered(pool, settings, "hello")

        assert run.status is models.RunStatus.DONE
        assert len(sandbox.ledger) == USERS
        entry = sandbox.ledger[0]
        chat = world.chats[entry.chat_id]
        assert entry.method == "sendMessage"
        assert entry.text == f"Hi <b>{chat.first_name}</b>, use SPRING"
        assert entry.fields["disable_notification"] is True
        assert entry.fields["protect_content"] is True
        assert entry.fields["link_preview_options"] == {"is_disabled": True}
        button = {"text": "Open", "url": f"https://example.org/?chat={entry.chat_id}"}
        assert entry.fields["reply_markup"] == {"inline_keyboard": [[button]]}


TEXT_CAMPAIGN = """
name: hello
bot: news
fields: {promo: SPRING}
content:
  text: "Hi <b>{{ first_name }}</b>, use {{ campaign.promo }}"
  buttons: [[{text: Open, url: "https://example.org/?chat={{ chat_id }}"}]]
  disable_notification: true
  protect_content: true
  link_preview: {disabled: true}
"""


@pytest.mark.parametrize("kind", ["photo", "video", "animation", "document", "audio"])
async def test_media__local_file__uploaded_once_per_bot_then_file_id(
    settings: config.Settings, pool: asyncpg.Pool, world: World, tmp_path: Path, kind: str
) -> None:
    (tmp_path / "media.bin").write_bytes(b"media of kind " + kind.encode())
    first, second = world.add_bot(rate_per_s=RATE), world.add_bot(rate_per_s=RATE)
    async with Sandbox(world) as sandbox:
        bots = [
            await register_bot(pool, sandbox, first, "one", RATE),
            await register_bot(pool, sandbox, second, "two", RATE),
        ]
        chats = sorted(world.chats)
        halves = (chats[: USERS // 2], chats[USERS // 2 :])
        for bot, half in zip(bots, halves, strict=True):
            await import_records(pool, bot, [{"chat_id": chat} for chat in half])
        await apply_campaign(pool, media_campaign(kind), tmp_path)

        await delivered(pool, settings, "media")
        await delivered(pool, settings, "media")

        entries = sandbox.ledger
        assert len(entries) == 2 * USERS  # two runs
        assert {e.method for e in entries} == {f"send{kind.title()}"}
        uploads = Counter(e.bot_id for e in entries if e.fields["uploaded"])
        assert uploads == {first.id: 1, second.id: 1}
        file_ids = {(e.bot_id, e.fields[kind]) for e in entries}
        assert len(file_ids) == 2  # one file_id per bot, reused for every chat
        assert {(e.text, e.parse_mode) for e in entries} == {("<i>Caption</i>", "HTML")}
        stored = await pool.fetchval("SELECT count(*) FROM media_files")
        assert stored == 2


def media_campaign(kind: str) -> str:
    return f"""
name: media
bot: one
segment: {{bots: [one, two]}}
content:
  kind: {kind}
  media: media.bin
  text: <i>Caption</i>
"""


async def test_media__file_id_and_url__sent_by_reference_without_upload(
    settings: config.Settings, pool: asyncpg.Pool, world: World, tmp_path: Path
) -> None:
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    stored = world.files.store(sandbox_bot.id, "photo", b"known photo")
    world.files.add_url("https://example.org/clip.mp4")
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "news", RATE)
        await import_world(pool, world, bot, tmp_path)
        await apply_campaign(pool, ALBUM_CAMPAIGN.format(file_id=stored.file_id), tmp_path)

        run = await delivered(pool, settings, "album")

        assert run.status is models.RunStatus.DONE
        assert len(sandbox.ledger) == USERS
        entry = sandbox.ledger[0]
        assert entry.method == "sendMediaGroup"
        media = entry.fields["media"]
        assert isinstance(media, list)
        assert [item["type"] for item in media] == ["photo", "video"]
        assert media[0]["file_id"] == stored.file_id
        assert world.files.uploads == 0
        assert world.files.downloads == USERS


ALBUM_CAMPAIGN = """
name: album
bot: news
content:
  kind: album
  album:
    - {{kind: photo, media: {file_id}, caption: "For {{{{ first_name }}}}"}}
    - {{kind: video, media: "https://example.org/clip.mp4"}}
"""


async def test_copy__channel_post__copied_to_every_chat(
    settings: config.Settings, pool: asyncpg.Pool, world: World, tmp_path: Path
) -> None:
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    channel = world.set_chat(-1003000000001, ChatKind.CHANNEL)
    channel.last_message_id = 7  # the channel has posts 1 to 7
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "news", RATE)
        await import_world(pool, world, bot, tmp_path)
        await apply_campaign(pool, COPY_CAMPAIGN, tmp_path)

        run = await delivered(pool, settings, "copy")

        assert run.status is models.RunStatus.DONE
        assert {
            (e.method, e.fields["from_chat_id"], e.fields["message_id"]) for e in sandbox.ledger
        } == {("copyMessage", channel.id, 7)}
        assert len(sandbox.ledger) == USERS


COPY_CAMPAIGN = """
name: copy
bot: news
content:
  kind: copy
  copy_from: {from_chat_id: -1003000000001, message_id: 7}
"""


HOSTILE_NAMES = [
    "<script>alert(1)</script>",
    "<b>",
    "</b></i>",
    "*_*",
    "[x](tg://user?id=1) `code` ||spoiler|| ~s~ \\",
    "&amp; &lt;b&gt; &#x3c;",
    "{{ 7 * 7 }} {% raw %}",
    "Ω" * 5000,
]


@pytest.mark.parametrize(
    ("parse_mode", "text"),
    [
        ("html", "Hi <b>{{ first_name }}</b> (@{{ username }}) from {{ fields.city }}"),
        ("markdownv2", "Hi *{{ first_name }}* \\(@{{ username }}\\) from {{ fields.city }}"),
        ("none", "Hi {{ first_name }} from {{ fields.city }}"),
    ],
)
async def test_templates__hostile_subscriber_fields__every_message_parses(
    settings: config.Settings,
    pool: asyncpg.Pool,
    world: World,
    tmp_path: Path,
    parse_mode: str,
    text: str,
) -> None:
    sandbox_bot = world.add_bot(rate_per_s=RATE)
    people = sorted(world.chats)[: len(HOSTILE_NAMES)]
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "news", RATE)
        await import_records(
            pool,
            bot,
            [
                {
                    "chat_id": chat,
                    "first_name": name,
                    "username": name[:40],
                    "fields": {"city": name},
                }
                for chat, name in zip(people, HOSTILE_NAMES, strict=True)
            ],
        )
        await apply_campaign(
            pool,
            f"name: hostile\nbot: news\ncontent: {{parse_mode: {parse_mode}, text: '{text}'}}\n",
            tmp_path,
        )

        run = await delivered(pool, settings, "hostile")

        assert run.status is models.RunStatus.DONE
        assert sandbox.stats.errors == Counter()
        # Names are cut to Telegram's 64 characters; a 5,000-character custom field makes
        # the message too long, which is refused here rather than sent.
        async with pool.acquire() as connection:
            failures = await run_rows.failures(connection, run.id)
        assert [(reason, count) for reason, _, count in failures] == [("rejected", 1)]
        assert "Telegram allows 4,096" in str(failures[0][1])
        assert len(sandbox.ledger) == len(HOSTILE_NAMES) - 1
