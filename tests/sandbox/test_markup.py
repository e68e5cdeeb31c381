"""Entity parsing: the plain text a chat sees, and Telegram's parse errors."""

from __future__ import annotations

import pytest

from bulletin.sandbox.answers import ApiError
from bulletin.sandbox.markup import plain_text


@pytest.mark.parametrize(
    ("text", "parse_mode", "expected"),
    [
        ("a.b", None, "a.b"),
        ('<b>bold</b> <a href="https://x.org">link</a> &lt;3 &#65;', "HTML", "bold link <3 A"),
        ("*bold* _it_ __u__ ~s~ ||sp|| `co.de` [li\\.nk](https://x.org/a)", "MarkdownV2",
         "bold it u s sp co.de li.nk"),
        (">quote\n```python\nprint(1)\n```", "MarkdownV2", "quote\nprint(1)\n"),
        ("*bold* _it_ `x.y`", "Markdown", "bold it x.y"),
    ],
)  # fmt: skip
def test_plain_text__valid__markup_stripped(
    text: str, parse_mode: str | None, expected: str
) -> None:
    assert plain_text(text, parse_mode) == expected


@pytest.mark.parametrize(
    ("text", "parse_mode", "description"),
    [
        ("<b>open", "HTML", 'Can\'t find end tag corresponding to start tag "b"'),
        ("é<x>y</x>", "HTML", 'Unsupported start tag "x" at byte offset 2'),
        ("<b>a</i>", "HTML", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("1 < 2", "HTML", "Unclosed start tag at byte offset 2"),
        ("Hello.", "MarkdownV2", "Character '.' is reserved and must be escaped with the "
         "preceding '\\'"),
        ("a > b", "MarkdownV2", "Character '>' is reserved"),
        ("*open", "MarkdownV2", "Can't find end of the entity starting at byte offset 0"),
        ("_open", "Markdown", "Can't find end of the entity starting at byte offset 0"),
    ],
)  # fmt: skip
def test_plain_text__invalid__cant_parse_entities(
    text: str, parse_mode: str, description: str
) -> None:
    with pytest.raises(ApiError) as caught:
        plain_text(text, parse_mode)
    assert caught.value.error_code == 400
    assert caught.value.description.startswith("Bad Request: can't parse entities: ")
    assert description in caught.value.description


def test_plain_text__unknown_parse_mode__unsupported() -> None:
    with pytest.raises(ApiError, match="unsupported parse_mode"):
        plain_text("hi", "BBCode")
