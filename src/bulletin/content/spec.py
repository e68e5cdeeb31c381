"""What a variant sends, as an operator writes it: kind, text, media, buttons and flags."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bulletin import models

Kind = models.ContentKind
SINGLE_MEDIA = frozenset({Kind.PHOTO, Kind.VIDEO, Kind.ANIMATION, Kind.DOCUMENT, Kind.AUDIO})
ALBUM_KINDS = frozenset({Kind.PHOTO, Kind.VIDEO, Kind.DOCUMENT, Kind.AUDIO})
ALBUM_SIZE = (2, 10)
URL_SCHEMES = ("https://", "http://", "tg://")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Button(Strict):
    text: str = Field(min_length=1, max_length=64)
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not url.startswith(URL_SCHEMES):
            raise ValueError(f"a button URL starts with https://, http:// or tg://, not {url!r}")
        return url


class LinkPreview(Strict):
    disabled: bool = False
    url: str | None = None
    prefer_small_media: bool = False
    prefer_large_media: bool = False
    show_above_text: bool = False


class AlbumItem(Strict):
    kind: Kind
    media: str = Field(min_length=1)
    caption: str = ""

    @field_validator("kind")
    @classmethod
    def _kind(cls, kind: Kind) -> Kind:
        if kind not in ALBUM_KINDS:
            raise ValueError(f"an album holds photos, videos, documents or audio, not {kind}")
        return kind


class CopySource(Strict):
    """An existing message (a channel post, say) copied as the content."""

    from_chat_id: int | str
    message_id: int = Field(gt=0)


class Content(Strict):
    """One message as designed; `text` is the text or the caption, a Jinja2 template."""

    kind: Kind = Kind.TEXT
    text: str = ""
    parse_mode: models.ParseMode = models.ParseMode.HTML
    media: str | None = None
    album: tuple[AlbumItem, ...] = ()
    copy_from: CopySource | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    disable_notification: bool = False
    protect_content: bool = False
    link_preview: LinkPreview | None = None

    @model_validator(mode="after")
    def _fits_kind(self) -> Self:
        problem = _kind_problem(self)
        if problem:
            raise ValueError(f"{self.kind} content: {problem}")
        return self

    def stored(self) -> dict[str, Any]:
        """The fields kept in variants.content (text and parse_mode have their own columns)."""
        kept_elsewhere = {"text", "parse_mode", "name", "weight", "language"}
        return self.model_dump(mode="json", exclude_defaults=True, exclude=kept_elsewhere)


class Variant(Content):
    name: str = Field(default="a", min_length=1, max_length=64)
    weight: int = Field(default=1, ge=1, le=1_000_000)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")

    def content(self) -> Content:
        return Content.model_validate(self.model_dump(exclude={"name", "weight", "language"}))


def _kind_problem(content: Content) -> str | None:
    kind = content.kind
    if kind is Kind.TEXT and not content.text.strip():
        return "text is empty"
    if (kind in SINGLE_MEDIA) != (content.media is not None):
        return "give `media` (a file_id, URL or path)" if kind in SINGLE_MEDIA else _no("media")
    if (kind is Kind.ALBUM) != bool(content.album):
        return _album_size(content) if kind is Kind.ALBUM else _no("album")
    if (kind is Kind.COPY) != (content.copy_from is not None):
        return (
            "give `copy_from` (from_chat_id, message_id)" if kind is Kind.COPY else _no("copy_from")
        )
    if content.link_preview is not None and kind is not Kind.TEXT:
        return _no("link_preview")
    if kind is Kind.ALBUM:
        return _album_size(content) or _album_mix(content) or _album_extras(content)
    return None


def _no(field: str) -> str:
    return f"`{field}` does not apply"


def _album_size(content: Content) -> str | None:
    low, high = ALBUM_SIZE
    if not low <= len(content.album) <= high:
        return f"an album has {low} to {high} items, not {len(content.album)}"
    return None


def _album_mix(content: Content) -> str | None:
    kinds = {item.kind for item in content.album}
    for alone in (Kind.DOCUMENT, Kind.AUDIO):
        if alone in kinds and len(kinds) > 1:
            return f"{alone} items cannot be mixed with other media in an album"
    return None


def _album_extras(content: Content) -> str | None:
    if content.buttons:
        return "Telegram's albums take no buttons"
    if content.text:
        return "put captions on the album items"
    return None
