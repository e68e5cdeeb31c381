"""Media methods over real HTTP through aiogram: uploads, file ids, URLs, albums, copies."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BufferedInputFile,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    MediaUnion,
)

from bulletin.sandbox import ChatKind, Sandbox
from tests.sandbox.conftest import PRIVATE_CHAT_ID

CHANNEL_CHAT_ID = -1003000000001
PICTURE = b"\x89PNG picture bytes"


async def test_send_photo__upload__new_file_id_reusable_by_this_bot_only(
    bot: Bot, sandbox: Sandbox, connect: Callable[[str], Bot]
) -> None:
    uploaded = await bot.send_photo(
        PRIVATE_CHAT_ID,
        BufferedInputFile(PICTURE, "a.png"),
        caption="<b>New</b>",
        parse_mode="HTML",
    )
    assert uploaded.photo is not None
    assert uploaded.caption == "New"
    file_id = uploaded.photo[-1].file_id

    again = await bot.send_photo(PRIVATE_CHAT_ID, file_id)

    assert again.photo is not None
    assert again.photo[-1].file_id == file_id
    assert [e.method for e in sandbox.ledger] == ["sendPhoto", "sendPhoto"]
    assert [e.fields["uploaded"] for e in sandbox.ledger] == [True, False]
    assert sandbox.world.files.uploads == 1
    other = connect(sandbox.world.add_bot().token)
    with pytest.raises(TelegramBadRequest) as caught:
        await other.send_photo(PRIVATE_CHAT_ID, file_id)
    assert caught.value.message == "Bad Request: wrong file identifier/HTTP URL specified"


@pytest.mark.parametrize("kind", ["video", "animation", "document", "audio"])
async def test_send_media__each_kind__right_method_and_attachment(
    bot: Bot, sandbox: Sandbox, kind: str
) -> None:
    send = getattr(bot, f"send_{kind}")
    message = await send(PRIVATE_CHAT_ID, BufferedInputFile(b"media", f"x.{kind}"), caption="hi")
    attachment = getattr(message, kind)
    assert attachment is not None
    assert sandbox.ledger[-1].method == f"send{kind.title()}"
    assert sandbox.ledger[-1].fields[kind] == attachment.file_id
    assert sandbox.ledger[-1].text == "hi"


async def test_send_photo__url__downloaded_once_registered(bot: Bot, sandbox: Sandbox) -> None:
    sandbox.world.files.add_url("https://example.org/banner.png")
    message = await bot.send_photo(PRIVATE_CHAT_ID, "https://example.org/banner.png")
    assert message.photo is not None
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_photo(PRIVATE_CHAT_ID, "https://example.org/missing.png")
    assert caught.value.message == "Bad Request: failed to get HTTP URL content"


@pytest.mark.parametrize(
    ("caption", "description"),
    [
        ("x" * 1025, "Bad Request: message caption is too long"),
        ("<b>open", "Bad Request: can't parse entities: Can't find end tag corresponding to "
         "start tag \"b\""),
    ],
)  # fmt: skip
async def test_send_photo__bad_caption__bad_request(
    bot: Bot, sandbox: Sandbox, caption: str, description: str
) -> None:
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_photo(
            PRIVATE_CHAT_ID, BufferedInputFile(PICTURE, "a.png"), caption=caption, parse_mode="HTML"
        )
    assert caught.value.message == description
    assert sandbox.ledger == []


async def test_send_photo__caption_at_limit_after_entities__accepted(bot: Bot) -> None:
    caption = f"<b>{'x' * 1024}</b>"
    message = await bot.send_photo(
        PRIVATE_CHAT_ID, BufferedInputFile(PICTURE, "a.png"), caption=caption, parse_mode="HTML"
    )
    assert message.caption == "x" * 1024


async def test_send_document__file_id_of_a_photo__type_mismatch(bot: Bot) -> None:
    photo = await bot.send_photo(PRIVATE_CHAT_ID, BufferedInputFile(PICTURE, "a.png"))
    assert photo.photo is not None
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_document(PRIVATE_CHAT_ID, photo.photo[-1].file_id)
    assert caught.value.message == "Bad Request: can't use file of type Photo as Document"


async def test_send_photo__unknown_file_id__wrong_file_identifier(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_photo(PRIVATE_CHAT_ID, "AgACAgIAAxkBAAIB")
    assert caught.value.message == "Bad Request: wrong file identifier/HTTP URL specified"


async def test_send_media_group__photos_and_video__one_message_each_in_one_group(
    bot: Bot, sandbox: Sandbox
) -> None:
    media = [
        InputMediaPhoto(media=BufferedInputFile(PICTURE, "a.png"), caption="first"),
        InputMediaVideo(media=BufferedInputFile(b"video", "b.mp4")),
        InputMediaPhoto(media=BufferedInputFile(PICTURE, "c.png")),
    ]
    messages = await bot.send_media_group(PRIVATE_CHAT_ID, media)  # type: ignore[arg-type]
    assert [m.message_id for m in messages] == [1, 2, 3]
    assert len({m.media_group_id for m in messages}) == 1
    assert messages[0].caption == "first"
    (entry,) = sandbox.ledger
    assert entry.method == "sendMediaGroup"
    assert [item["type"] for item in entry.fields["media"]] == ["photo", "video", "photo"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("media", "description"),
    [
        ([InputMediaPhoto(media="x")] * 11, "Bad Request: too many messages to send as an album"),
        ([InputMediaPhoto(media="x"), InputMediaDocument(media="y")],
         "Bad Request: document can't be mixed with other media types"),
        ([InputMediaAudio(media="x"), InputMediaVideo(media="y")],
         "Bad Request: audio can't be mixed with other media types"),
    ],
)  # fmt: skip
async def test_send_media_group__bad_album__bad_request(
    bot: Bot, media: list[MediaUnion], description: str
) -> None:
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_media_group(PRIVATE_CHAT_ID, media)
    assert caught.value.message == description


async def test_copy_message__channel_post__copied_with_new_caption(
    bot: Bot, sandbox: Sandbox
) -> None:
    sandbox.world.set_chat(CHANNEL_CHAT_ID, ChatKind.CHANNEL)
    post = await bot.send_message(CHANNEL_CHAT_ID, "the post")
    copied = await bot.copy_message(PRIVATE_CHAT_ID, CHANNEL_CHAT_ID, post.message_id)
    assert copied.message_id == 1
    entry = sandbox.ledger[-1]
    assert (entry.method, entry.chat_id) == ("copyMessage", PRIVATE_CHAT_ID)
    assert entry.fields["from_chat_id"] == CHANNEL_CHAT_ID
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.copy_message(PRIVATE_CHAT_ID, CHANNEL_CHAT_ID, post.message_id + 5)
    assert caught.value.message == "Bad Request: message to copy not found"


async def test_get_file__own_file_id__found_else_invalid(bot: Bot) -> None:
    photo = await bot.send_photo(PRIVATE_CHAT_ID, BufferedInputFile(PICTURE, "a.png"))
    assert photo.photo is not None
    found = await bot.get_file(photo.photo[-1].file_id)
    assert found.file_size == len(PICTURE)
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.get_file("nope")
    assert caught.value.message == "Bad Request: invalid file_id"
