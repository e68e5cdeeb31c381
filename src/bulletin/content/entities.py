"""What a formatted text shows once Telegram has parsed its entities, and whether it parses.

bulletin's own reading of HTML and MarkdownV2, kept apart from the sandbox's on purpose: the
pre-flight check and the sandbox must not agree by construction.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from bulletin import errors, models

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

# Tags Telegram's HTML parse mode accepts.
TELEGRAM_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"code", "pre", "blockquote", "tg-emoji"}
)
MARKDOWN_V2_SPECIALS = "_*[]()~`>#+-=|{}.!"
_MARKDOWN_V2_TOKEN = re.compile(
    r"\\.|```|`|\*|__|_|~|\|\||\[|\]\([^)]*\)|\]|>|[#+\-=|{}.!()]", re.S
)


def utf16_length(text: str) -> int:
    """Telegram counts lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def visible_text(text: str, parse_mode: models.ParseMode) -> str:
    """The text a chat sees; ContentError names the first markup Telegram would refuse."""
    match parse_mode:
        case models.ParseMode.HTML:
            return _HtmlReader().read(text)
        case models.ParseMode.MARKDOWN_V2:
            return _markdown_v2(text)
        case models.ParseMode.NONE:
            return text


def check_length(text: str, parse_mode: models.ParseMode, limit: int, what: str) -> None:
    """ContentError unless the visible text is non-empty and within Telegram's limit."""
    visible = visible_text(text, parse_mode)
    length = utf16_length(visible)
    if length > limit:
        raise errors.MessageTooLong(f"{what} is {length:,} characters; Telegram allows {limit:,}")


def escape(value: str, parse_mode: models.ParseMode) -> str:
    """A value made literal for the parse mode: it can never open or close an entity."""
    match parse_mode:
        case models.ParseMode.HTML:
            return html.escape(value, quote=True).replace("&#x27;", "'")
        case models.ParseMode.MARKDOWN_V2:
            return "".join("\\" + c if c in MARKDOWN_V2_SPECIALS or c == "\\" else c for c in value)
        case models.ParseMode.NONE:
            return value


class _HtmlReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._shown: list[str] = []
        self._open: list[str] = []

    def read(self, text: str) -> str:
        bare = re.search(r"<(?![a-zA-Z/])", text)
        if bare:
            raise _unparsable(f"a bare '<' at character {bare.start()} (write &lt;)")
        self.feed(text)
        self.close()
        if self._open:
            raise _unparsable(f"<{self._open[-1]}> is never closed")
        return "".join(self._shown)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            raise _unparsable(f"<{tag}> is not a tag Telegram supports")
        self._open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise _unparsable(f"<{tag}/> is not a tag Telegram supports")

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1] != tag:
            expected = f"</{self._open[-1]}>" if self._open else "no end tag"
            raise _unparsable(f"</{tag}> where {expected} was expected")
        self._open.pop()

    def handle_data(self, data: str) -> None:
        self._shown.append(data)


def _markdown_v2(text: str) -> str:
    shown: list[str] = []
    open_marks: list[str] = []
    position = 0
    while token := _MARKDOWN_V2_TOKEN.search(text, position):
        shown.append(text[position : token.start()])
        position = token.end()
        lexeme = token.group()
        if lexeme.startswith("\\"):
            shown.append(lexeme[1])
        elif lexeme in ("```", "`"):
            end = text.find(lexeme, position)
            if end < 0:
                raise _unparsable(f"{lexeme} at character {token.start()} is never closed")
            shown.append(re.sub(r"\\(.)", r"\1", text[position:end]))
            position = end + len(lexeme)
        else:
            _markdown_v2_mark(text, token, open_marks)
    shown.append(text[position:])
    if open_marks:
        raise _unparsable(f"{open_marks[-1]!r} is never closed")
    return "".join(shown)


def _markdown_v2_mark(text: str, token: re.Match[str], open_marks: list[str]) -> None:
    lexeme = token.group()
    if lexeme in ("*", "__", "_", "~", "||", "["):
        if open_marks and open_marks[-1] == lexeme and lexeme != "[":
            open_marks.pop()
        else:
            open_marks.append(lexeme)
    elif lexeme == "]" or lexeme.startswith("]("):
        if not open_marks or open_marks[-1] != "[":
            raise _unparsable(f"']' at character {token.start()} must be escaped as '\\]'")
        open_marks.pop()
    elif lexeme == ">" and (token.start() == 0 or text[token.start() - 1] == "\n"):
        return
    else:
        raise _unparsable(
            f"{lexeme!r} at character {token.start()} is reserved; escape it as '\\{lexeme}'"
        )


def _unparsable(reason: str) -> errors.ContentError:
    return errors.ContentError(f"can't parse entities: {reason}")
