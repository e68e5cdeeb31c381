"""Media methods: sendPhoto … sendAudio, sendMediaGroup, copyMessage and getFile, as Telegram checks them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bulletin.sandbox import answers, markup, methods
from bulletin.sandbox.files import PHOTO_UPLOAD_LIMIT, Files, StoredFile, Upload
from bulletin.sandbox.ledger import LedgerEntry, optional_fields

if TYPE_CHECKING:
    from bulletin.sandbox.methods import BotApi, Outcome, Params
    from bulletin.sandbox.world import Bot, Chat

CAPTION_LENGTH_LIMIT = 1024
ALBUM_LIMIT = 10
METHOD_KINDS = {
    "sendphoto": "photo",
    "sendvideo": "video",
    "sendanimation": "animation",
    "senddocument": "document",
    "sendaudio": "audio",
}
ALBUM_TYPES = frozenset({"photo", "video", "document", "audio"})
ALBUM_ALONE = ("document", "audio")  # kinds an album holds only with their own kind


def _send_media(kind: str) -> Callable[[BotApi, Bot, Params], Outcome]:
    def handler(api: BotApi, bot: Bot, params: Params) -> Outcome:
        return api.respond(bot, params, lambda b, p: _compose_media(api, b, p, kind))

    handler.__doc__ = f"Answer send{kind.title()}: limits, chat, caption, the {kind} itself."
    return handler


def send_media_group(api: BotApi, bot: Bot, params: Params) -> Outcome:
    """Answer sendMediaGroup: 2–10 photos and videos, documents alone, audio alone."""
    return api.respond(bot, params, lambda b, p: _compose_album(api, b, p))


def copy_message(api: BotApi, bot: Bot, params: Params) -> Outcome:
    """Answer copyMessage with the new message's id, if the source message exists."""
    return api.respond(bot, params, lambda b, p: _compose_copy(api, b, p))


def get_file(api: BotApi, bot: Bot, params: Params) -> Outcome:
    """Answer getFile for a file_id of this bot's."""
    stored = api.world.files.find(bot.id, methods._text(params, "file_id") or "")
    if stored is None:
        return api._failure(answers.bad_request("invalid file_id"))
    result = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "file_path": f"{stored.kind}s/{stored.file_unique_id}",
    }
    return methods.Outcome(200, answers.success(result))


def _compose_media(
    api: BotApi, bot: Bot, params: Params, kind: str
) -> tuple[LedgerEntry, dict[str, object]]:
    chat, paid = _admitted_chat(api, bot, params)
    caption, parse_mode, plain = _caption(params)
    methods._check_reply_markup(params)
    uploaded = _is_upload(params.get(kind), params)
    stored = _file(api.world.files, bot.id, kind, params.get(kind), params)
    fields = {kind: stored.file_id, "uploaded": uploaded, **optional_fields(params)}
    entry = _record(api, bot, chat, caption, parse_mode, paid, f"send{kind.title()}", fields)
    return entry, _media_message(bot, chat, entry, plain, stored)


def _compose_album(
    api: BotApi, bot: Bot, params: Params
) -> tuple[LedgerEntry, list[dict[str, object]]]:
    chat, paid = _admitted_chat(api, bot, params)
    items = _album_items(params)
    stored = []
    captions = []
    for item in items:
        caption = str(item.get("caption") or "")
        plain = markup.plain_text(caption, _parse_mode(item.get("parse_mode"))) if caption else ""
        if len(plain) > CAPTION_LENGTH_LIMIT:
            raise answers.bad_request("message caption is too long")
        captions.append(plain)
        uploaded = _is_upload(item.get("media"), params)
        stored.append(
            (_file(api.world.files, bot.id, str(item["type"]), item.get("media"), params), uploaded)
        )
    fields = {
        "media": [{"type": s.kind, "file_id": s.file_id, "uploaded": up} for s, up in stored],
        "uploaded": any(up for _, up in stored),
        **optional_fields(params),
    }
    entry = _record(
        api, bot, chat, str(items[0].get("caption") or ""), None, paid, "sendMediaGroup", fields
    )
    group_id = str(10**17 + entry.message_id)
    messages = []
    for number, ((file, _), plain) in enumerate(zip(stored, captions, strict=True)):
        message_entry = entry if number == 0 else _next_id(entry, chat)
        message = _media_message(bot, chat, message_entry, plain, file)
        message["media_group_id"] = group_id
        messages.append(message)
    return entry, messages


def _compose_copy(api: BotApi, bot: Bot, params: Params) -> tuple[LedgerEntry, dict[str, object]]:
    chat, paid = _admitted_chat(api, bot, params)
    source_key = methods._text(params, "from_chat_id") or ""
    message_id = int(methods._text(params, "message_id") or 0)
    source = api._find_chat(int(source_key) if source_key.lstrip("-").isdigit() else source_key)
    if source is None or not 0 < message_id <= source.last_message_id:
        raise answers.bad_request("message to copy not found")
    caption, parse_mode, _ = _caption(params)
    methods._check_reply_markup(params)
    fields = {"from_chat_id": source.id, "message_id": message_id, **optional_fields(params)}
    entry = _record(api, bot, chat, caption, parse_mode, paid, "copyMessage", fields)
    return entry, {"message_id": entry.message_id}


def _admitted_chat(api: BotApi, bot: Bot, params: Params) -> tuple[Chat, bool]:
    chat_key = methods._chat_key(params)
    paid = methods._flag(params, "allow_paid_broadcast")
    api._admit(bot, chat_key, paid)
    return api._reachable_chat(chat_key), paid


def _caption(params: Params) -> tuple[str, str | None, str]:
    caption = methods._text(params, "caption") or ""
    parse_mode = _parse_mode(params.get("parse_mode"))
    plain = markup.plain_text(caption, parse_mode) if caption else ""
    if len(plain) > CAPTION_LENGTH_LIMIT:
        raise answers.bad_request("message caption is too long")
    return caption, parse_mode, plain


def _parse_mode(value: object) -> str | None:
    return str(value) if value else None


def _album_items(params: Params) -> list[dict[str, object]]:
    try:
        items = json.loads(methods._text(params, "media") or "[]")
    except ValueError:
        raise answers.bad_request("can't parse media JSON object") from None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise answers.bad_request("can't parse media JSON object")
    if not items:
        raise answers.bad_request("there are no messages to send")
    if len(items) > ALBUM_LIMIT:
        raise answers.bad_request("too many messages to send as an album")
    types = [str(item.get("type")) for item in items]
    for kind in types:
        if kind == "animation":
            raise answers.bad_request(
                "can't parse InputMedia: type \"animation\" can't be used in sendMediaGroup"
            )
        if kind not in ALBUM_TYPES:
            raise answers.bad_request(f'can\'t parse InputMedia: type "{kind}" is unsupported')
    for alone in ALBUM_ALONE:
        if alone in types and len(set(types)) > 1:
            raise answers.bad_request(f"{alone} can't be mixed with other media types")
    return items


def _is_upload(value: object, params: Params) -> bool:
    if isinstance(value, str) and value.startswith("attach://"):
        value = params.get(value.removeprefix("attach://"))
    return isinstance(value, Upload)


def _file(files: Files, bot_id: int, kind: str, value: object, params: Params) -> StoredFile:
    """The file a request names: an upload, a URL to download, or a file_id of this bot's."""
    if isinstance(value, str) and value.startswith("attach://"):
        value = params.get(value.removeprefix("attach://"))
        if not isinstance(value, Upload):
            raise answers.bad_request("wrong file identifier/HTTP URL specified")
    if isinstance(value, Upload):
        return _uploaded(files, bot_id, kind, value)
    if not isinstance(value, str) or not value:
        raise answers.bad_request(f"there is no {kind} in the request")
    if value.startswith(("http://", "https://")):
        content = files.web.get(value)
        if content is None:
            raise answers.bad_request("failed to get HTTP URL content")
        files.downloads += 1
        return files.store(bot_id, kind, content)
    stored = files.find(bot_id, value)
    if stored is None:
        raise answers.bad_request("wrong file identifier/HTTP URL specified")
    if stored.kind != kind:
        raise answers.bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
    return stored


def _uploaded(files: Files, bot_id: int, kind: str, upload: Upload) -> StoredFile:
    if not upload.content:
        raise answers.bad_request("file must be non-empty")
    if kind == "photo" and len(upload.content) > PHOTO_UPLOAD_LIMIT:
        raise answers.bad_request("PHOTO_SAVE_FILE_INVALID")
    files.uploads += 1
    return files.store(bot_id, kind, upload.content)


def _record(
    api: BotApi,
    bot: Bot,
    chat: Chat,
    text: str,
    parse_mode: str | None,
    paid: bool,
    method: str,
    fields: dict[str, object],
) -> LedgerEntry:
    entry = LedgerEntry(
        bot.id, chat.id, chat.next_message_id(), text, parse_mode, paid, time.time(),
        method=method, fields=fields,
    )  # fmt: skip
    api.ledger.append(entry)
    api.stats.accepted += 1
    return entry


def _next_id(entry: LedgerEntry, chat: Chat) -> LedgerEntry:
    """Later messages of an album: their own ids, one ledger entry for the album."""
    return LedgerEntry(
        entry.bot_id, chat.id, chat.next_message_id(), "", None, entry.paid, entry.at
    )


def _media_message(
    bot: Bot, chat: Chat, entry: LedgerEntry, plain: str, stored: StoredFile
) -> dict[str, object]:
    message = methods._message(bot, chat, entry, plain)
    del message["text"]
    if plain:
        message["caption"] = plain
    described = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
    }
    match stored.kind:
        case "photo":
            message["photo"] = [{**described, "width": 800, "height": 600}]
        case "video" | "animation":
            message[stored.kind] = {**described, "width": 640, "height": 360, "duration": 5}
            if stored.kind == "animation":
                message["document"] = described
        case "audio":
            message["audio"] = {**described, "duration": 30}
        case _:
            message["document"] = described
    return message


HANDLERS: dict[str, Callable[[BotApi, Bot, Params], Outcome]] = {
    **{method: _send_media(kind) for method, kind in METHOD_KINDS.items()},
    "sendmediagroup": send_media_group,
    "copymessage": copy_message,
    "getfile": get_file,
}
