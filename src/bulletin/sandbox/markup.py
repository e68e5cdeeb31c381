"""Entity parsing for HTML, MarkdownV2 and Markdown: the plain text, or Telegram's parse error."""

from __future__ import annotations

import html
import re

from bulletin.sandbox import answers

HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"code", "pre", "blockquote", "tg-emoji"}
)
HTML_TOKEN = re.compile(
    r"<(?P<closing>/?)(?P<name>[^\s<>/]*)[^<>]*>"
    r"|(?P<entity>&(?:#\d+|#[xX][0-9a-fA-F]+|lt|gt|amp|quot);)"
    r"|(?P<bare><)"
)
MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
MARKDOWN_V2_MARKERS = ("__", "||", "*", "_", "~")
MARKDOWN_MARKERS = ("```", "`", "*", "_")


def plain_text(text: str, parse_mode: str | None) -> str:
    """Return the text a chat would see, or raise Telegram's entity error."""
    match parse_mode:
        case None | "":
            return text
        case "HTML" | "html":
            return _html(text)
        case "MarkdownV2" | "markdownv2":
            return _MarkdownV2(text).parse()
        case "Markdown" | "markdown":
            return _markdown(text)
        case _:
            raise answers.bad_request("unsupported parse_mode")


def _parse_error(reason: str) -> answers.ApiError:
    return answers.bad_request(f"can't parse entities: {reason}")


def _byte_offset(text: str, position: int) -> int:
    return len(text[:position].encode("utf-8"))


def _unclosed_entity(text: str, position: int) -> answers.ApiError:
    offset = _byte_offset(text, position)
    return _parse_error(f"Can't find end of the entity starting at byte offset {offset}")


def _html(text: str) -> str:
    plain: list[str] = []
    open_tags: list[str] = []
    position = 0
    for token in HTML_TOKEN.finditer(text):
        plain.append(text[position : token.start()])
        position = token.end()
        if token["entity"]:
            plain.append(html.unescape(token["entity"]))
        elif token["bare"]:
            offset = _byte_offset(text, token.start())
            raise _parse_error(f"Unclosed start tag at byte offset {offset}")
        elif token["closing"]:
            _close_html_tag(text, token, open_tags)
        else:
            _open_html_tag(text, token, open_tags)
    plain.append(text[position:])
    if open_tags:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(plain)


def _open_html_tag(text: str, token: re.Match[str], open_tags: list[str]) -> None:
    name = token["name"].lower()
    if name not in HTML_TAGS:
        offset = _byte_offset(text, token.start())
        raise _parse_error(f'Unsupported start tag "{name}" at byte offset {offset}')
    open_tags.append(name)


def _close_html_tag(text: str, token: re.Match[str], open_tags: list[str]) -> None:
    name = token["name"].lower()
    offset = _byte_offset(text, token.start())
    if not open_tags:
        raise _parse_error(f"Unexpected end tag at byte offset {offset}")
    expected = open_tags.pop()
    if name != expected:
        raise _parse_error(
            f'Unmatched end tag at byte offset {offset}, expected "</{expected}>", '
            f'found "</{name}>"'
        )


class _MarkdownV2:
    """A scanner that strips MarkdownV2 markup and rejects unescaped reserved characters."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.plain: list[str] = []
        self.open_marks: list[tuple[str, int]] = []

    def parse(self) -> str:
        while self.position < len(self.text):
            self._step()
        if self.open_marks:
            raise _unclosed_entity(self.text, self.open_marks[-1][1])
        return "".join(self.plain)

    def _step(self) -> None:
        character = self.text[self.position]
        if character == "\\":
            self.plain.append(self.text[self.position + 1 : self.position + 2])
            self.position += 2
        elif character == "`":
            self._code()
        elif marker := self._marker():
            self._toggle(marker)
        elif character == "[":
            self.open_marks.append(("[", self.position))
            self.position += 1
        elif character == "]":
            self._link_end()
        elif character == ">":
            self._blockquote()
        elif character in MARKDOWN_V2_RESERVED:
            raise _parse_error(
                f"Character '{character}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            self.plain.append(character)
            self.position += 1

    def _marker(self) -> str:
        return next((m for m in MARKDOWN_V2_MARKERS if self.text.startswith(m, self.position)), "")

    def _toggle(self, marker: str) -> None:
        if self.open_marks and self.open_marks[-1][0] == marker:
            self.open_marks.pop()
        else:
            self.open_marks.append((marker, self.position))
        self.position += len(marker)

    def _blockquote(self) -> None:
        at_line_start = self.position == 0 or self.text[self.position - 1] == "\n"
        if not at_line_start:
            raise _parse_error(
                "Character '>' is reserved and must be escaped with the preceding '\\'"
            )
        self.position += 1

    def _code(self) -> None:
        fence = "```" if self.text.startswith("```", self.position) else "`"
        end = self.text.find(fence, self.position + len(fence))
        if end < 0:
            raise _unclosed_entity(self.text, self.position)
        content = self.text[self.position + len(fence) : end]
        if fence == "```" and "\n" in content:
            language, _, rest = content.partition("\n")
            content = rest if re.fullmatch(r"[\w+-]*", language) else content
        self.plain.append(re.sub(r"\\(.)", r"\1", content))
        self.position = end + len(fence)

    def _link_end(self) -> None:
        if not self.open_marks or self.open_marks[-1][0] != "[":
            raise _parse_error(
                "Character ']' is reserved and must be escaped with the preceding '\\'"
            )
        self.open_marks.pop()
        self.position += 1
        if self.text.startswith("(", self.position):
            end = self.text.find(")", self.position)
            if end < 0:
                raise _unclosed_entity(self.text, self.position)
            self.position = end + 1


def _markdown(text: str) -> str:
    """Strip legacy Markdown, where only unclosed entities are errors."""
    plain: list[str] = []
    position = 0
    while position < len(text):
        if text[position] == "\\" and text[position + 1 : position + 2] in "_*`[":
            plain.append(text[position + 1 : position + 2])
            position += 2
            continue
        marker = next((m for m in MARKDOWN_MARKERS if text.startswith(m, position)), "")
        if not marker:
            plain.append(text[position])
            position += 1
            continue
        end = text.find(marker, position + len(marker))
        if end < 0:
            raise _unclosed_entity(text, position)
        plain.append(text[position + len(marker) : end])
        position = end + len(marker)
    return "".join(plain)
