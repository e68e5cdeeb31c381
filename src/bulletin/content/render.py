"""Templates: Jinja2's sandbox with StrictUndefined, every value escaped for the parse mode.

Subscriber fields are data, never templates: a value is escaped where it is printed, so a
first name of `<b>` or `*_*` shows as written and cannot open or close an entity.
"""

from __future__ import annotations

import functools
import json
import operator
import urllib.parse
from collections.abc import Callable
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from bulletin import errors, models
from bulletin.content import entities
from bulletin.content.spec import Content

# Telegram's own limits on these fields; imported data may be longer.
FIRST_NAME_LIMIT = 64
USERNAME_LIMIT = 32
REPEAT_LIMIT = 10_000  # 'x' * n and [x] * n
URL_ESCAPE = "url"  # the escaping mode of button URLs


class _Environment(SandboxedEnvironment):
    """The sandbox, plus bounds on the few operators that can allocate without limit."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if abs(right) > 64:
                raise SecurityError("exponent too large")
            return left**right
        for sequence, count in ((left, right), (right, left)):
            sized = isinstance(sequence, str | list | tuple) and isinstance(count, int)
            if sized and count * len(sequence) > REPEAT_LIMIT:
                raise SecurityError("repetition too large")
        return operator.mul(left, right)


@functools.cache
def _environment(mode: str) -> _Environment:
    escaper: Callable[[str], str] = (
        functools.partial(urllib.parse.quote, safe="")
        if mode == URL_ESCAPE
        else functools.partial(entities.escape, parse_mode=models.ParseMode(mode))
    )

    def finalize(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, Markup):  # marked `| safe` by the template's author
            return str(value)
        return escaper(str(value))

    return _Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=finalize,
        keep_trailing_newline=True,
    )


@functools.lru_cache(maxsize=1024)
def compile_template(source: str, mode: str) -> jinja2.Template:
    """A checked, compiled template; ContentError for syntax errors and unsafe constructs."""
    environment = _environment(mode)
    try:
        tree = environment.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise errors.ContentError(f"template line {exc.lineno}: {exc.message}") from None
    _refuse_unsafe(tree)
    return environment.from_string(tree)


def render_text(source: str, mode: str, values: dict[str, Any]) -> str:
    """Render one template; ContentError says why it cannot be rendered for these values."""
    if "{" not in source:
        return source
    template = compile_template(source, mode)
    try:
        return template.render(values)
    except SecurityError as exc:
        raise errors.ContentError(f"template refused: {exc}") from None
    except jinja2.UndefinedError as exc:
        raise errors.ContentError(f"template: {exc.message}") from None
    except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        raise errors.ContentError(f"template: {exc}") from None


def values(template: models.Template, recipient: models.Recipient) -> dict[str, Any]:
    """What a template may read: the subscriber's fields and the campaign's."""
    return {
        "chat_id": recipient.chat_id,
        "first_name": _clip(recipient.first_name, FIRST_NAME_LIMIT),
        "username": _clip(recipient.username, USERNAME_LIMIT),
        "language_code": recipient.language_code,
        "tags": list(recipient.tags),
        "fields": json.loads(recipient.fields),
        "campaign": {"name": template.campaign_name, **json.loads(template.campaign_fields)},
    }


@functools.lru_cache(maxsize=1024)
def stored_content(template_content: str, text: str, parse_mode: models.ParseMode) -> Content:
    return Content.model_validate(
        {**json.loads(template_content), "text": text, "parse_mode": parse_mode}
    )


def message(template: models.Template, recipient: models.Recipient) -> models.Message:
    """The message one subscriber gets; ContentError if it cannot be rendered or sent as is."""
    if is_static(template.content, template.text, template.parse_mode):
        return static_message(template.content, template.text, template.parse_mode)
    content = stored_content(template.content, template.text, template.parse_mode)
    return build(content, values(template, recipient))


TEMPLATE_MARKERS = ("{{", "{%", "{#")


@functools.lru_cache(maxsize=1024)
def is_static(template_content: str, text: str, parse_mode: models.ParseMode) -> bool:
    """True when no part of the content is a template: everyone gets the same message."""
    content = stored_content(template_content, text, parse_mode)
    parts = [content.text, *(item.caption for item in content.album)]
    parts += [
        part for row in content.buttons for button in row for part in (button.text, button.url)
    ]
    return not any(marker in part for part in parts for marker in TEMPLATE_MARKERS)


@functools.lru_cache(maxsize=256)
def static_message(
    template_content: str, text: str, parse_mode: models.ParseMode
) -> models.Message:
    """A content without templates, rendered and checked once for the whole audience."""
    return build(stored_content(template_content, text, parse_mode), {})


def build(content: Content, context: dict[str, Any]) -> models.Message:
    """Render every template of a content for one context, and check it against the limits."""
    mode = content.parse_mode
    text = render_text(content.text, mode.value, context)
    media = tuple(
        models.Media(item.kind, item.media, render_text(item.caption, mode.value, context))
        for item in content.album
    )
    if content.media is not None:
        media = (models.Media(content.kind, content.media),)
    rendered = models.Message(
        kind=content.kind,
        text=text,
        parse_mode=mode,
        media=media,
        copy_from_chat_id=content.copy_from.from_chat_id if content.copy_from else None,
        copy_message_id=content.copy_from.message_id if content.copy_from else None,
        buttons=tuple(
            tuple(
                models.Button(
                    render_text(button.text, models.ParseMode.NONE.value, context),
                    render_text(button.url, URL_ESCAPE, context),
                )
                for button in row
            )
            for row in content.buttons
        ),
        disable_notification=content.disable_notification,
        protect_content=content.protect_content,
        link_preview=_link_preview(content),
    )
    check_limits(rendered)
    return rendered


def check_limits(rendered: models.Message) -> None:
    """ContentError unless every text parses and fits: 4096 for a text, 1024 for a caption."""
    mode = rendered.parse_mode
    if rendered.kind is models.ContentKind.TEXT:
        entities.check_length(rendered.text, mode, entities.TEXT_LIMIT, "the text")
        if not entities.visible_text(rendered.text, mode).strip():
            raise errors.ContentError("the text is empty once rendered")
        return
    entities.check_length(rendered.text, mode, entities.CAPTION_LIMIT, "the caption")
    for number, item in enumerate(rendered.media, start=1):
        entities.check_length(item.caption, mode, entities.CAPTION_LIMIT, f"caption {number}")


def _link_preview(content: Content) -> models.LinkPreview | None:
    if content.link_preview is None:
        return None
    return models.LinkPreview(**content.link_preview.model_dump())


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value is not None else None


def _refuse_unsafe(tree: nodes.Template) -> None:
    """Templates read fields; reaching for Python internals or other files is refused."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Test)):
        name = _reached_name(node)
        if name is not None and name.startswith("_"):
            raise errors.ContentError(
                f"template line {node.lineno}: {name!r} is not allowed "
                "(templates may only read subscriber and campaign fields)"
            )
        if isinstance(node, nodes.Filter) and node.name == "attr":
            raise errors.ContentError(
                f"template line {node.lineno}: the attr filter is not allowed"
            )
    for unsafe in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        raise errors.ContentError(
            f"template line {unsafe.lineno}: templates cannot include or import other templates"
        )


def _reached_name(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        return str(node.attr)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        value = node.arg.value
        return value if isinstance(value, str) else None
    return None
