"""The dashboard's assets ship in the package, and no page loads anything from another host."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest

from bulletin import models
from bulletin.app import dashboard
from bulletin.web.dashboard import guard, render

PACKAGE = resources.files("bulletin.web.dashboard")
EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
VENDORED = (
    "static/vendor/htmx/htmx.min.js",
    "static/vendor/htmx/LICENSE",
    "static/vendor/uplot/uPlot.iife.min.js",
    "static/vendor/uplot/uPlot.min.css",
    "static/vendor/uplot/LICENSE",
    "static/dashboard.css",
    "static/dashboard.js",
)


@pytest.mark.parametrize("path", VENDORED)
def test_assets__vendored_with_licences__in_the_package(path: str) -> None:
    assert (PACKAGE / path).is_file()


def test_templates__no_external_host__in_any_page() -> None:
    templates = [
        entry for entry in (PACKAGE / "templates").iterdir() if entry.name.endswith(".html")
    ]

    assert len(templates) > 5
    for template in templates:
        assert not EXTERNAL.search(template.read_text("utf-8")), template.name


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/campaigns/a", "/campaigns/a"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_local_path__after_sign_in__only_this_site(target: str | None, expected: str) -> None:
    assert guard.local_path(target) == expected


def _run(seconds: float) -> models.Run:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return models.Run(
        1, 1, "c", models.RunStatus.DONE, 10, None, start, start + timedelta(seconds=seconds)
    )


@pytest.mark.parametrize(
    ("seconds", "width"), [(10, 1), (360, 1), (361, 5), (3600, 10), (86_400, 300)]
)
def test_bucket_width__run_length__at_most_chart_points(seconds: float, width: int) -> None:
    assert dashboard.bucket_width_s(_run(seconds), datetime.now(UTC)) == width


def test_fill__gaps_between_sends__zero() -> None:
    assert dashboard.fill([(100, 20), (130, 10)], 10) == [
        (100, 2.0), (110, 0.0), (120, 0.0), (130, 1.0),
    ]  # fmt: skip


def test_duration__as_a_person_says_it() -> None:
    assert [render.duration(s) for s in (None, 5, 200, 7500)] == [
        "—",
        "5 s",
        "3 min 20 s",
        "2 h 5 min",
    ]
