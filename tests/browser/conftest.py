"""Browser fixtures: Debian's Chromium driven by Playwright, against a real `bulletin serve`.

Browsers cannot be downloaded here, so Playwright drives the `chromium` on PATH (or
$BULLETIN_TEST_CHROMIUM); without one, these tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from bulletin import config, models
from bulletin.app import tokens
from bulletin.db.pool import open_pool
from bulletin.sandbox import Sandbox, World
from tests.support import import_world, register_bot
from tests.web.conftest import Served, start_serve, stop_serve

ROOT = Path(__file__).resolve().parent.parent.parent
AUDIENCE = 120
RATE_PER_S = 20.0  # slow enough that a run is watched for ~6 s
DOCUMENT = {"bot": "news", "variants": [{"name": "a", "text": "Hello {{ first_name }}!"}]}
WIDTHS = (1280, 390)


def chromium_path() -> str | None:
    return os.environ.get("BULLETIN_TEST_CHROMIUM") or shutil.which("chromium")


def artifacts_dir() -> Path:
    """Where screenshots go: $BULLETIN_TEST_ARTIFACTS, or test-artifacts/ (git-ignored)."""
    folder = Path(os.environ.get("BULLETIN_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def chromium() -> str:
    """The Chromium to drive; the test skips, saying why, where there is none."""
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium: install Debian's `chromium` or set BULLETIN_TEST_CHROMIUM")
    return path


@pytest.fixture
async def browser(chromium: str, setup: Setup) -> AsyncIterator[Browser]:
    """Chromium, closed before `serve` stops (its open polls would hold serve's shutdown)."""
    async with async_playwright() as playwright:
        # --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
        launched = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def pool(settings: config.Settings) -> AsyncIterator[asyncpg.Pool]:
    async with open_pool(settings, max_size=5) as opened:
        yield opened


@dataclass
class Setup:
    """A sandbox bot at a low rate with an audience, a serve process, and tokens."""

    sandbox: Sandbox
    bot: models.Bot
    served: Served
    admin: str
    viewer: str


@pytest.fixture
async def setup(
    chromium: str, pool: asyncpg.Pool, cli_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[Setup]:
    world = World.generate(AUDIENCE, blocked=0.05, gone=0.02, seed=11)
    sandbox_bot = world.add_bot(rate_per_s=100)
    async with Sandbox(world) as sandbox:
        bot = await register_bot(pool, sandbox, sandbox_bot, "news", RATE_PER_S)
        await import_world(pool, world, bot, tmp_path)
        _, admin = await tokens.create(pool, tokens.Role.ADMIN, "ops")
        _, viewer = await tokens.create(pool, tokens.Role.VIEWER, "watcher")
        served = await start_serve(cli_env, "--workers", "1")
        try:
            yield Setup(sandbox, bot, served, admin, viewer)
        finally:
            print(await stop_serve(served))  # serve's log, shown when a test fails


async def apply_campaign(setup: Setup, name: str, *, start: bool) -> None:
    """The campaign through the API (the dashboard shows; it does not design)."""
    headers = {"Authorization": f"Bearer {setup.admin}"}
    async with httpx.AsyncClient(base_url=setup.served.url, headers=headers) as api:
        saved = await api.put(f"/api/v1/campaigns/{name}", json=DOCUMENT)
        assert saved.status_code == 200, saved.text
        if start:
            started = await api.post(f"/api/v1/campaigns/{name}/start")
            assert started.status_code == 200, started.text


async def signed_in(browser: Browser, setup: Setup, token: str, **options: object) -> Page:
    """A new browser context signed in with this token through the login form."""
    context = await browser.new_context(base_url=setup.served.url, **options)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto("/")
    assert page.url.endswith("/login?next=%2F"), page.url
    await page.get_by_label("API token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(setup.served.url + "/")
    return page


async def figure(page: Page, selector: str) -> int:
    text = await page.locator(selector).inner_text()
    return int(text.replace(",", ""))
