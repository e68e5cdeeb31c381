"""Pages from the package's Jinja2 templates, and the headers every dashboard answer carries."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

# Everything the pages load comes from bulletin itself; no inline script runs.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def number(value: float | None) -> str:
    """1,234 for a count, 12.5 for a rate; an em dash for nothing."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def duration(seconds: float | None) -> str:
    """How long, as a person says it: 45 s, 3 min 20 s, 2 h 5 min."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def moment(value: datetime | None) -> str:
    """A time in UTC, to the second: what the CLI and the logs show too."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def segment(value: object) -> str:
    """One path segment: a campaign name with a slash or a space stays one segment."""
    return quote(str(value), safe="")


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("bulletin.web.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(number=number, duration=duration, moment=moment, segment=segment)
    return environment


ENVIRONMENT = _environment()


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A template rendered for this request; `session` and `csrf` are always there."""
    session = getattr(request.state, "session", None)
    html = ENVIRONMENT.get_template(template).render(
        request=request, session=session, csrf=session.csrf_token if session else "", **context
    )
    return HTMLResponse(html, status)


def error(request: Request, status: int, detail: str) -> HTMLResponse:
    """An error as a page: the same one line the CLI and the API say."""
    return page(
        request, "error.html", status, title=HTTPStatus(status).phrase, detail=detail, code=status
    )
