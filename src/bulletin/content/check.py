"""The pre-flight check: every variant renders for real subscribers, parses, fits, and its files exist."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import meta, nodes

from bulletin import errors, models
from bulletin.content import entities, media, render
from bulletin.content.spec import Content, Variant

# Rendered as well for every sample: a name no message may break on.
HOSTILE_NAME = "<b>*_*[`</i>&amp;\\" + "x" * 100
# What a template may read besides the sandbox's globals (render.values).
SUBSCRIBER_NAMES = ("chat_id", "first_name", "username", "language_code", "tags", "fields")
CAMPAIGN_NAME = "campaign"
SAMPLE_TEXT = "sample"

Location = tuple[str | int, ...]


@dataclasses.dataclass(frozen=True)
class TemplateProblem:
    """A template that cannot work for anyone, at its place in the variant (`text`, …)."""

    location: Location
    reason: str

    def __str__(self) -> str:
        return f"{'.'.join(str(part) for part in self.location)}: {self.reason}"


def template_problems(
    variants: tuple[Variant, ...], fields: Mapping[str, object] | None = None
) -> list[str]:
    """What can be told of these templates before any subscriber: syntax, unknown names
    (of `campaign.*` too when the campaign's `fields` are given), and templates over the
    rendering budget for a sample subscriber. One line each; empty when nothing is wrong."""
    return [
        f"variant {variant.name}: {problem}"
        for variant in variants
        for problem in variant_template_problems(variant, fields)
    ]


def variant_template_problems(
    variant: Variant, fields: Mapping[str, object] | None = None
) -> list[TemplateProblem]:
    found = []
    for location, source, mode, limit in _templates(variant.content()):
        reason = _template_problem(source, mode, limit, fields)
        if reason is not None:
            found.append(TemplateProblem(location, reason))
    return found


def problems(
    variants: tuple[Variant, ...],
    campaign_name: str,
    campaign_fields: str,
    samples: list[models.Recipient],
) -> list[str]:
    """What stops these variants from being sent, one line each; empty when nothing does."""
    found: list[str] = []
    for variant in variants:
        problem = variant_problem(variant, campaign_name, campaign_fields, samples)
        if problem is not None:
            found.append(f"variant {variant.name}: {problem}")
    return found


def variant_problem(
    variant: Variant, campaign_name: str, campaign_fields: str, samples: list[models.Recipient]
) -> str | None:
    content = variant.content()
    static = variant_template_problems(variant, json.loads(campaign_fields))
    if static:
        return str(static[0])
    try:
        _check_files(content)
        for recipient in samples:
            template = models.Template(
                0, campaign_name, campaign_fields, "", content.parse_mode, "{}"
            )
            hostile = dataclasses.replace(recipient, first_name=HOSTILE_NAME, username=HOSTILE_NAME)
            for person in (recipient, hostile):
                try:
                    render.build(content, render.values(template, person))
                except errors.ContentError as exc:
                    raise errors.ContentError(f"for chat {recipient.chat_id}: {exc}") from None
    except errors.ContentError as exc:
        return str(exc)
    return None


def _templates(content: Content) -> Iterator[tuple[Location, str, str, int]]:
    """Every template of a content: where it is, its source, escaping mode and length limit."""
    mode = content.parse_mode.value
    text_limit = entities.TEXT_LIMIT if content.kind is models.ContentKind.TEXT else 0
    yield ("text",), content.text, mode, text_limit or entities.CAPTION_LIMIT
    for number, item in enumerate(content.album):
        yield ("album", number, "caption"), item.caption, mode, entities.CAPTION_LIMIT
    for row_number, row in enumerate(content.buttons):
        for number, button in enumerate(row):
            place = ("buttons", row_number, number)
            yield (*place, "text"), button.text, models.ParseMode.NONE.value, entities.CAPTION_LIMIT
            yield (*place, "url"), button.url, render.URL_ESCAPE, entities.CAPTION_LIMIT


def _template_problem(
    source: str, mode: str, limit: int, fields: Mapping[str, object] | None
) -> str | None:
    if not any(marker in source for marker in render.TEMPLATE_MARKERS):
        return None
    try:
        render.compile_template(source, mode)
    except errors.ContentError as exc:
        return str(exc)
    tree = render.environment(mode).parse(source)
    unknown = _unknown_name(tree, mode) or _unknown_campaign_field(tree, fields)
    if unknown is not None:
        return unknown
    try:
        render.render_text(source, mode, _sample_values(fields), limit)
    except errors.RenderBudgetExceeded as exc:
        return str(exc)
    except errors.ContentError:
        pass  # it may depend on the subscriber: the check renders real ones
    return None


def _unknown_name(tree: nodes.Template, mode: str) -> str | None:
    known = {*SUBSCRIBER_NAMES, CAMPAIGN_NAME, *render.environment(mode).globals}
    unknown = meta.find_undeclared_variables(tree) - known
    if not unknown:
        return None
    name = min(unknown)
    line = next(node.lineno for node in tree.find_all(nodes.Name) if node.name == name)
    return (
        f"template line {line}: unknown name {name!r} (a template reads "
        f"{', '.join(SUBSCRIBER_NAMES[:-1])}, fields.<subscriber field> and campaign.<field>)"
    )


def _unknown_campaign_field(
    tree: nodes.Template, fields: Mapping[str, object] | None
) -> str | None:
    if fields is None:
        return None
    known = {"name", *fields}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = _campaign_key(node)
        if name is not None and name not in known:
            listed = ", ".join(sorted(known))
            return (
                f"template line {node.lineno}: campaign.{name} is not a field of the campaign "
                f"({listed}; add it under `fields`)"
            )
    return None


def _campaign_key(node: nodes.Node) -> str | None:
    """The key of `campaign.key` or `campaign['key']`."""
    if isinstance(node, nodes.Getattr):
        target, key = node.node, node.attr
    elif isinstance(node, nodes.Getitem):
        target, key = node.node, _constant(node.arg)
    else:
        return None
    named = isinstance(target, nodes.Name) and target.name == CAMPAIGN_NAME
    return key if named and isinstance(key, str) else None


def _constant(node: nodes.Node) -> Any:
    return node.value if isinstance(node, nodes.Const) else None


class _AnyField(dict[str, Any]):
    """A sample's `fields`: whatever a template reads, it finds a value."""

    def __missing__(self, key: str) -> str:
        return SAMPLE_TEXT


def _sample_values(fields: Mapping[str, object] | None) -> dict[str, Any]:
    campaign = _AnyField(name=SAMPLE_TEXT) if fields is None else {"name": SAMPLE_TEXT, **fields}
    return {
        "chat_id": 1,
        "first_name": SAMPLE_TEXT,
        "username": SAMPLE_TEXT,
        "language_code": "en",
        "tags": [],
        "fields": _AnyField(),
        CAMPAIGN_NAME: campaign,
    }


def _check_files(content: Content) -> None:
    """Local files are regular files, can be read, and fit Telegram's upload limits."""
    sources = [(content.kind, content.media)] if content.media else []
    sources += [(item.kind, item.media) for item in content.album]
    for kind, source in sources:
        if models.MediaOrigin.of(source) is not models.MediaOrigin.PATH:
            continue
        media.checked(source, kind)
        try:
            os.close(os.open(source, media.OPEN_FLAGS))
        except OSError as exc:
            raise errors.ContentError(f"cannot read {source}: {exc.strerror}") from None
