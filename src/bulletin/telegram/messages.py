"""From a rendered models.Message to the one Bot API call that sends it, and back to file ids."""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.types import (
    BufferedInputFile,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    LinkPreviewOptions,
)
from aiogram.types import Message as TelegramMessage

from bulletin import models

Kind = models.ContentKind
InputMedia = InputMediaPhoto | InputMediaVideo | InputMediaDocument | InputMediaAudio
ALBUM_ITEMS: dict[Kind, type[InputMedia]] = {
    Kind.PHOTO: InputMediaPhoto,
    Kind.VIDEO: InputMediaVideo,
    Kind.DOCUMENT: InputMediaDocument,
    Kind.AUDIO: InputMediaAudio,
}


async def send(
    bot: Bot, chat_id: int, message: models.Message, *, paid: bool = False
) -> tuple[int, tuple[str, ...]]:
    """Send one message; return its message_id and the file ids of its media."""
    common = _common(message, paid)
    match message.kind:
        case Kind.TEXT:
            sent = await bot.send_message(
                chat_id, message.text, link_preview_options=_link_preview(message), **common
            )
            return sent.message_id, ()
        case Kind.ALBUM:
            return await _send_album(bot, chat_id, message, paid)
        case Kind.COPY:
            assert message.copy_from_chat_id is not None
            assert message.copy_message_id is not None
            copied = await bot.copy_message(
                chat_id,
                message.copy_from_chat_id,
                message.copy_message_id,
                caption=message.text or None,
                **common,
            )
            return copied.message_id, ()
        case _:
            sent = await _send_single(bot, chat_id, message, common)
            return sent.message_id, _file_ids(sent)


async def _send_single(
    bot: Bot, chat_id: int, message: models.Message, common: dict[str, Any]
) -> TelegramMessage:
    (media,) = message.media
    caption = message.text or None
    file = _input_file(media)
    match message.kind:
        case Kind.PHOTO:
            return await bot.send_photo(chat_id, file, caption=caption, **common)
        case Kind.VIDEO:
            return await bot.send_video(chat_id, file, caption=caption, **common)
        case Kind.ANIMATION:
            return await bot.send_animation(chat_id, file, caption=caption, **common)
        case Kind.DOCUMENT:
            return await bot.send_document(chat_id, file, caption=caption, **common)
        case Kind.AUDIO:
            return await bot.send_audio(chat_id, file, caption=caption, **common)
    raise AssertionError(f"not a single media kind: {message.kind}")


async def _send_album(
    bot: Bot, chat_id: int, message: models.Message, paid: bool
) -> tuple[int, tuple[str, ...]]:
    parse_mode = message.parse_mode.telegram_name
    items = [
        ALBUM_ITEMS[item.kind](
            media=_input_file(item), caption=item.caption or None, parse_mode=parse_mode
        )
        for item in message.media
    ]
    sent = await bot.send_media_group(
        chat_id,
        items,  # type: ignore[arg-type]  # aiogram's list is invariant over a union
        disable_notification=message.disable_notification or None,
        protect_content=message.protect_content or None,
        allow_paid_broadcast=True if paid else None,
    )
    return sent[0].message_id, tuple(file_id for one in sent for file_id in _file_ids(one))


def _common(message: models.Message, paid: bool) -> dict[str, Any]:
    common: dict[str, Any] = {
        "parse_mode": message.parse_mode.telegram_name,
        # Telegram's defaults are false: leave them out rather than encode them per message.
        "disable_notification": message.disable_notification or None,
        "protect_content": message.protect_content or None,
        # Up to 1000 msgs/s, billed in Stars by Telegram: only when the operator asked.
        "allow_paid_broadcast": True if paid else None,
    }
    if message.buttons:
        common["reply_markup"] = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=button.text, url=button.url) for button in row]
                for row in message.buttons
            ]
        )
    return common


def _link_preview(message: models.Message) -> LinkPreviewOptions | None:
    preview = message.link_preview
    if preview is None:
        return None
    return LinkPreviewOptions(
        is_disabled=preview.disabled or None,
        url=preview.url,
        prefer_small_media=preview.prefer_small_media or None,
        prefer_large_media=preview.prefer_large_media or None,
        show_above_text=preview.show_above_text or None,
    )


def _input_file(media: models.Media) -> FSInputFile | BufferedInputFile | str:
    """A local path or an API upload's bytes are uploaded; a file_id or a URL is passed for
    Telegram to resolve."""
    if media.origin is models.MediaOrigin.PATH:
        return FSInputFile(media.source)
    if media.upload is not None:
        return BufferedInputFile(media.upload.content, filename=media.upload.filename)
    return media.source


def _file_ids(sent: TelegramMessage) -> tuple[str, ...]:
    if sent.photo:
        return (sent.photo[-1].file_id,)
    for attachment in (sent.video, sent.animation, sent.audio, sent.document):
        if attachment is not None:
            return (attachment.file_id,)
    return ()
