"""Checks and clean-ups for the values of one audience line."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

CHAT_ID_LIMIT = 2**52
"""Every Telegram chat id has an absolute value below this."""

_INTEGER = re.compile(r"[+-]?[0-9]+")
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?")
_TAG_SEPARATORS = re.compile(r"[;,|]")
# What no text column can hold besides NUL: a lone surrogate, which JSON's \ud800 escape makes.
_SURROGATE = re.compile("[\ud800-\udfff]")
_QUOTE_LENGTH = 40
_CACHED_VALUES = 4096
"""Distinct language codes and tag lists remembered: a file repeats a few of them."""


class ValueProblem(Exception):
    """A value in one line is invalid; the message is the one-line reason."""


def quote(value: str) -> str:
    """Quote a value for a one-line message, shortening it when long."""
    if len(value) > _QUOTE_LENGTH:
        value = value[: _QUOTE_LENGTH - 1] + "…"
    return repr(value)


def is_integer(text: str) -> bool:
    """Tell whether text is a decimal integer, optionally signed."""
    return _INTEGER.fullmatch(text) is not None


def parse_chat_id(raw: str | int | None) -> int:
    """Turn a raw chat id into an int in the range of Telegram chat ids."""
    if raw is None:
        raise ValueProblem("chat_id is missing")
    if isinstance(raw, str):
        raw = _integer_from_text(raw.strip())
    if raw == 0:
        raise ValueProblem("chat_id must not be 0")
    if abs(raw) >= CHAT_ID_LIMIT:
        raise ValueProblem(f"chat_id {raw} is out of range (|chat_id| < 2**52)")
    return raw


def _integer_from_text(text: str) -> int:
    if not text:
        raise ValueProblem("chat_id is missing")
    digits = text[1:] if text[0] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):
        raise ValueProblem(f"chat_id {quote(text)} is not an integer")
    if len(text) > 30:
        raise ValueProblem(f"chat_id {quote(text)} is out of range (|chat_id| < 2**52)")
    return int(text)


def clean_text(name: str, raw: str | None) -> str | None:
    """Trim a text value; an empty one becomes None."""
    if raw is None:
        return None
    check_storable(name, raw)
    return raw.strip() or None


def is_storable(raw: str) -> bool:
    """Whether PostgreSQL can store this text (check_storable says why not)."""
    return "\x00" not in raw and (raw.isascii() or _SURROGATE.search(raw) is None)


def check_storable(name: str, raw: str) -> None:
    """Refuse text PostgreSQL cannot store: NUL, or a lone surrogate (from a JSON escape)."""
    if "\x00" in raw:
        raise ValueProblem(f"{name} contains a NUL character")
    if not raw.isascii() and _SURROGATE.search(raw):
        raise ValueProblem(f"{name} contains a lone surrogate (\\ud800-\\udfff), not text")


def clean_username(raw: str | None) -> str | None:
    """Trim a username and drop its leading @; an empty one becomes None."""
    text = clean_text("username", raw)
    if text is None:
        return None
    return text.removeprefix("@").strip() or None


def clean_language_code(raw: str | None) -> str | None:
    """Lower-case a language code like 'en' or 'pt-BR'; an empty one becomes None."""
    text = clean_text("language_code", raw)
    if text is None:
        return None
    return _language_code(text)


@functools.lru_cache(maxsize=_CACHED_VALUES)
def _language_code(text: str) -> str:
    code = text.lower().replace("_", "-")
    if _LANGUAGE_CODE.fullmatch(code) is None:
        raise ValueProblem(f"language_code {quote(text)} is not a code like 'en' or 'pt-br'")
    return code


def split_tags(raw: str | None) -> tuple[str, ...]:
    """Split a tags field on ';', ',' or '|' into clean tags."""
    if raw is None:
        return ()
    return _split_tags(raw)


@functools.lru_cache(maxsize=_CACHED_VALUES)
def _split_tags(raw: str) -> tuple[str, ...]:
    return normalize_tags([raw])


def normalize_tags(values: Iterable[str]) -> tuple[str, ...]:
    """Split, trim, lower-case and deduplicate tags, keeping their first order."""
    tags: dict[str, None] = {}
    for value in values:
        if "\x00" in value:
            raise ValueProblem("tags contain a NUL character")
        check_storable("tags", value)
        for part in _TAG_SEPARATORS.split(value):
            tag = part.strip().lower()
            if tag:
                tags[tag] = None
    return tuple(tags)
