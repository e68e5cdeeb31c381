"""Templates: Jinja2's sandbox with StrictUndefined, every value escaped for the parse mode.

Subscriber fields are data, never templates: a value is escaped where it is printed, so a
first name of `<b>` or `*_*` shows as written and cannot open or close an entity.
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from collections.abc import Callable, Generator
from typing import Any, cast

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from markupsafe import Markup

from bulletin import errors, models
from bulletin.content import budget, entities, sandbox
from bulletin.content.spec import Content

# Telegram's own limits on these fields; imported data may be longer.
FIRST_NAME_LIMIT = 64
USERNAME_LIMIT = 32
URL_ESCAPE = "url"  # the escaping mode of button URLs
SOURCE_LIMIT = 65_536  # characters of one template
TEMPLATE_FILE = "<template>"
CAPTION_LIMIT = entities.CAPTION_LIMIT  # the file name Jinja gives a template's frames


@functools.cache
def environment(mode: str) -> sandbox.BoundedEnvironment:
    """The sandbox templates of this escaping mode (a parse mode, or URL) are compiled in."""
    escaper: Callable[[str], str] = (
        functools.partial(urllib.parse.quote, safe="")
        if mode == URL_ESCAPE
        else functools.partial(entities.escape, parse_mode=models.ParseMode(mode))
    )

    def finalize(value: Any) -> Any:
        if value is None:
            return ""
        budget.check_size(value)  # before str(): a list printed is its every item printed
        if isinstance(value, Markup):  # marked `| safe` by the template's author
            return str(value)
        return escaper(str(value))

    return sandbox.BoundedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=finalize,
        keep_trailing_newline=True,
    )


@functools.lru_cache(maxsize=1024)
def compile_template(source: str, mode: str) -> jinja2.Template:
    """A checked, compiled template; ContentError for syntax errors and unsafe constructs."""
    if len(source) > SOURCE_LIMIT:
        raise errors.ContentError(
            f"a template is at most {SOURCE_LIMIT:,} characters, not {len(source):,}"
        )
    sandboxed = environment(mode)
    try:
        tree = sandboxed.parse(source)
        _refuse_unsafe(tree)
        metered = sandbox.Metered().visit(tree)
        return sandboxed.from_string(metered)
    except jinja2.TemplateSyntaxError as exc:
        raise errors.ContentError(f"template line {exc.lineno}: {exc.message}") from None
    except RecursionError:
        raise errors.ContentError("template: nested too deeply to compile") from None


def render_text(
    source: str, mode: str, values: dict[str, Any], limit: int = entities.TEXT_LIMIT
) -> str:
    """Render one template under the message's budget, stopping once its output passes
    `limit` plus a margin for markup; ContentError says why it cannot be rendered."""
    if "{" not in source:
        return source
    template = compile_template(source, mode)
    with budget.metered():
        try:
            return _generated(template, values, limit + budget.OUTPUT_MARGIN)
        except errors.ContentError as exc:
            raise _at_line(exc, exc) from None
        except RecursionError as exc:
            raise _at_line(exc, budget.exceeded("it calls itself too deeply")) from None
        except SecurityError as exc:
            raise _at_line(exc, errors.ContentError(f"refused: {exc}")) from None
        except jinja2.UndefinedError as exc:
            raise _at_line(exc, errors.ContentError(exc.message or "undefined")) from None
        except Exception as exc:  # whatever a template does, it is its fault
            raise _at_line(exc, errors.ContentError(_described(exc))) from None


def _generated(template: jinja2.Template, values: dict[str, Any], limit: int) -> str:
    parts = []
    length = 0
    stream = cast(Generator[str, None, None], template.generate(values))
    try:
        for part in stream:
            length += len(part)
            if length > limit:
                raise budget.exceeded(f"it renders to over {limit:,} characters")
            parts.append(part)
    finally:
        stream.close()
    return "".join(parts)


def _at_line(cause: BaseException, error: errors.ContentError) -> errors.ContentError:
    """The error, naming the template line it was raised on (Jinja rewrites the frames)."""
    line = None
    traceback = cause.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == TEMPLATE_FILE:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    where = f"template line {line}" if line is not None else "template"
    return type(error)(f"{where}: {error}")


def _described(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


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
    """The message one subscriber gets; raises nothing but ContentError (MessageTooLong when
    this subscriber's fields make it too long), whatever the template or the stored row does."""
    key = (template.content, template.text, template.parse_mode)
    refused = _over_budget.get(key)
    if refused is not None:  # a template that blew its budget once is not run again
        raise errors.RenderBudgetExceeded(refused)
    try:
        if is_static(*key):
            return static_message(*key)
        return build(stored_content(*key), values(template, recipient))
    except errors.RenderBudgetExceeded as exc:
        if len(_over_budget) >= OVER_BUDGET_KEPT:
            _over_budget.clear()
        _over_budget[key] = str(exc)
        raise
    except errors.ContentError:
        raise
    except Exception as exc:  # a stored row the renderer cannot read
        raise errors.ContentError(f"cannot render the stored variant: {_described(exc)}") from None


# Templates that went over their budget, so the rest of a claimed batch fails at once.
OVER_BUDGET_KEPT = 256
_over_budget: dict[tuple[str, str, models.ParseMode], str] = {}


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
    """Render every template of a content for one context under one budget, and check it
    against Telegram's limits; raises nothing but ContentError."""
    with budget.metered():
        return _built(content, context)


def _built(content: Content, context: dict[str, Any]) -> models.Message:
    mode = content.parse_mode
    limit = entities.TEXT_LIMIT if content.kind is models.ContentKind.TEXT else CAPTION_LIMIT
    text = render_text(content.text, mode.value, context, limit)
    media = tuple(
        models.Media(
            item.kind, item.media, render_text(item.caption, mode.value, context, CAPTION_LIMIT)
        )
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
                    render_text(button.text, models.ParseMode.NONE.value, context, CAPTION_LIMIT),
                    render_text(button.url, URL_ESCAPE, context, CAPTION_LIMIT),
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
