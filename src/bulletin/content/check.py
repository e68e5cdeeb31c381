"""The pre-flight check: every variant renders for real subscribers, parses, fits, and its files exist."""

from __future__ import annotations

import dataclasses
import os

from bulletin import errors, models
from bulletin.content import render
from bulletin.content.spec import Content, Variant

# Telegram's upload limits (api.telegram.org): 10 MB for a photo, 50 MB for other files.
UPLOAD_LIMITS = {models.ContentKind.PHOTO: 10 * 1024 * 1024}
UPLOAD_LIMIT = 50 * 1024 * 1024
# Rendered as well for every sample: a name no message may break on.
HOSTILE_NAME = "<b>*_*[`</i>&amp;\\" + "x" * 100


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
    try:
        _compile_all(content)
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


def _compile_all(content: Content) -> None:
    """Syntax and safety of every template, whoever it is rendered for."""
    mode = content.parse_mode.value
    for source in (content.text, *(item.caption for item in content.album)):
        render.compile_template(source, mode)
    for row in content.buttons:
        for button in row:
            render.compile_template(button.text, models.ParseMode.NONE.value)
            render.compile_template(button.url, render.URL_ESCAPE)


def _check_files(content: Content) -> None:
    """Local files exist, can be read, and fit Telegram's upload limits."""
    sources = [(content.kind, content.media)] if content.media else []
    sources += [(item.kind, item.media) for item in content.album]
    for kind, source in sources:
        if models.MediaOrigin.of(source) is not models.MediaOrigin.PATH:
            continue
        try:
            size = os.stat(source).st_size
            with open(source, "rb"):
                pass
        except OSError as exc:
            raise errors.ContentError(f"cannot read {source}: {exc.strerror}") from None
        limit = UPLOAD_LIMITS.get(kind, UPLOAD_LIMIT)
        if size == 0 or size > limit:
            raise errors.ContentError(
                f"{source} has {size:,} bytes; Telegram takes 1 to {limit:,} for a {kind}"
            )
