"""An operator watches and steers a run in a real browser (Chromium through Playwright)."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest
from playwright.async_api import Browser, Page

from bulletin import config
from bulletin.db.updates import UpdateStore
from bulletin.telegram.client import BotClient
from bulletin.telegram.listener import Listener, poll_all
from tests.browser.conftest import (
    AUDIENCE,
    WIDTHS,
    Setup,
    apply_campaign,
    artifacts_dir,
    figure,
    signed_in,
)
from tests.support import eventually, run_cli, wait_for

RUN = '[data-run="launch/1"]'
FIGURES = ("sent", "failed", "pending")


async def shoot(page: Page, name: str) -> None:
    """A screenshot at each width, and no horizontal scrolling on a phone."""
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=artifacts_dir() / f"{name}-{width}.png", full_page=True)
        if width <= 390:
            scroll_width = await page.evaluate("document.scrollingElement.scrollWidth")
            assert scroll_width <= width, f"{name}: {scroll_width} px wide at {width} px"
    await page.set_viewport_size({"width": WIDTHS[0], "height": 900})


async def figure_above(page: Page, selector: str, floor: int, timeout_s: float = 30) -> int:
    """The figure once the page shows more than `floor` (read again as the page updates)."""
    async with asyncio.timeout(timeout_s):
        while True:
            if await page.locator(selector).count():
                shown = await figure(page, selector)
                if shown > floor:
                    return shown
            await asyncio.sleep(0.1)


async def canvas_drawn(page: Page, selector: str = "#chart canvas") -> bool:
    return bool(
        await page.evaluate(
            """(selector) => {
                const canvas = document.querySelector(selector);
                if (!canvas || !canvas.width || !canvas.height) return false;
                const pixels = canvas.getContext('2d')
                    .getImageData(0, 0, canvas.width, canvas.height).data;
                for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
                return false;
            }""",
            selector,
        )
    )


@pytest.mark.slow
async def test_overview__live_run__progress_advances_without_reload_and_ends_as_status_says(
    browser: Browser, setup: Setup, cli_env: dict[str, str]
) -> None:
    await apply_campaign(setup, "launch", start=False)
    page = await signed_in(browser, setup, setup.admin)
    await page.goto("/campaigns/launch")
    await page.get_by_role("button", name="Start").click()
    await page.get_by_role("dialog").get_by_role("button", name="Start").click()
    await page.wait_for_url("**/campaigns/launch?done=*")
    await page.goto("/")
    await page.evaluate("window.notReloaded = true")
    first = await figure_above(page, f"{RUN} [data-figure=sent]", 0)
    await figure_above(page, f"{RUN} [data-figure=sent]", first)
    assert await page.evaluate("window.notReloaded === true")
    await shoot(page, "overview-live")
    await page.locator(f"{RUN} [data-figure=status]", has_text="done").wait_for(timeout=60_000)
    assert await page.evaluate("window.notReloaded === true")

    code, out, err = await run_cli("campaign", "status", "launch", "--json", env=cli_env)
    assert code == 0, err
    said = json.loads(out)
    shown = {name: await figure(page, f"{RUN} [data-figure={name}]") for name in FIGURES}
    assert shown == {name: said[name] for name in FIGURES}
    assert said["sent"] > 0
    assert said["failed"] > 0  # the world has blocked and gone chats
    await shoot(page, "overview")

    await page.goto("/campaigns/launch/runs/1")
    await page.locator("#chart canvas").first.wait_for()
    assert await canvas_drawn(page)
    assert await figure(page, "#run-live [data-figure=sent]") == said["sent"]
    await shoot(page, "run")
    for path, name in (("/campaigns", "campaigns"), ("/campaigns/launch", "campaign")):
        await page.goto(path)
        await shoot(page, name)
    await page.goto("/campaigns/launch/runs/1?outcome=failed")
    rows = await page.locator("table.report tbody tr").count()
    assert rows == said["failed"]


async def test_run_page__pause_confirmed__run_paused_and_sending_stops(
    browser: Browser, setup: Setup, pool: asyncpg.Pool
) -> None:
    await apply_campaign(setup, "launch", start=True)
    page = await signed_in(browser, setup, setup.admin)
    await page.goto("/campaigns/launch/runs/1")
    await eventually(lambda: len(setup.sandbox.ledger) >= 10)
    await page.get_by_role("button", name="Pause").click()
    dialog = page.get_by_role("dialog")
    await shoot(page, "run-confirm-dialog")
    await dialog.get_by_role("button", name="Pause").click()
    await page.wait_for_url("**/campaigns/launch/runs/1?done=*")
    await wait_for(pool, "SELECT status = 'paused' FROM runs WHERE number = 1")

    # What was claimed before the pause may still land; then nothing more does.
    async def settled() -> int:
        while True:
            before = len(setup.sandbox.ledger)
            await asyncio.sleep(1.0)
            if len(setup.sandbox.ledger) == before:
                return before

    async with asyncio.timeout(20):
        stopped_at = await settled()
    await asyncio.sleep(1.0)
    assert len(setup.sandbox.ledger) == stopped_at < AUDIENCE
    sent = await pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sent'")
    assert sent == stopped_at
    await page.locator("#run-live [data-figure=status]", has_text="paused").wait_for()
    await page.get_by_role("button", name="Resume").wait_for()

    # Without JavaScript, the same button leads to a confirmation page.
    plain = await signed_in(browser, setup, setup.admin, java_script_enabled=False)
    await plain.goto("/campaigns/launch/runs/1")
    await plain.get_by_role("button", name="Resume").click()
    await plain.wait_for_url("**/campaigns/launch/resume")
    await shoot(plain, "confirm-page")
    await plain.get_by_role("button", name="Resume").click()
    await wait_for(pool, "SELECT status = 'running' FROM runs WHERE number = 1")


async def test_viewer__no_action_buttons_and_posts_refused__forged_post_refused(
    browser: Browser, setup: Setup, pool: asyncpg.Pool
) -> None:
    await apply_campaign(setup, "launch", start=True)
    viewer = await signed_in(browser, setup, setup.viewer)
    await viewer.goto("/campaigns/launch/runs/1")
    await viewer.locator("#run-live").wait_for()
    assert await viewer.locator("[data-action]").count() == 0
    assert await viewer.locator(".actions").count() == 0
    csrf = await viewer.locator("input[name=csrf]").first.get_attribute("value")
    assert csrf
    posted = await viewer.request.post(
        "/campaigns/launch/pause", form={"csrf": csrf, "confirm": "yes"}, max_redirects=0
    )
    assert posted.status == 403
    assert "viewer" in await posted.text()

    admin = await signed_in(browser, setup, setup.admin)
    await admin.goto("/campaigns/launch/runs/1")
    assert await admin.locator("[data-action=pause]").count() == 1
    forged = await admin.request.post(
        "/campaigns/launch/pause", form={"confirm": "yes"}, max_redirects=0
    )
    assert forged.status == 403
    assert "CSRF" in await forged.text()
    assert await pool.fetchval("SELECT status FROM runs WHERE number = 1") != "paused"
    # The same POST with the session's token is an admin's action: done.
    token = await admin.locator("input[name=csrf]").first.get_attribute("value")
    assert token
    cancelled = await admin.request.post(
        "/campaigns/launch/cancel", form={"csrf": token, "confirm": "yes"}, max_redirects=0
    )
    assert cancelled.status == 303
    assert await pool.fetchval("SELECT status FROM runs WHERE number = 1") == "cancelled"

    anonymous = await browser.new_context(base_url=setup.served.url)
    login = await anonymous.new_page()
    await login.goto("/campaigns/launch")
    await login.get_by_label("API token").fill("blt_not-a-token")
    await login.get_by_role("button", name="Sign in").click()
    await login.locator("#login-problem").wait_for()
    await shoot(login, "login")


PERSON = 100_000_777  # not in the world's audience: comes through a deep link


async def deep_link_start(setup: Setup, pool: asyncpg.Pool, payload: str) -> None:
    """A person opens t.me/bot?start=<payload> and presses Start; the listener records it."""
    client = BotClient(setup.bot.token, setup.bot.api_url)
    listener = Listener(setup.bot, client, UpdateStore(pool), config.ListenerSettings())
    stop = asyncio.Event()
    polling = asyncio.create_task(poll_all([listener], stop))
    try:
        setup.sandbox.actions.start(setup.bot.id, PERSON, payload)
        await wait_for(pool, "SELECT EXISTS (SELECT 1 FROM subscribers WHERE chat_id = $1)", PERSON)
    finally:
        stop.set()
        await polling
        await client.close()


async def test_audience_bots_activity__imports_a_deep_link_and_a_run__growth_drawn_run_shown(
    browser: Browser, setup: Setup, pool: asyncpg.Pool
) -> None:
    # Earlier days as the rollups hold them; today's growth is the fixture's real import of
    # AUDIENCE chats and one deep link's /start through the listener.
    await pool.execute(
        "INSERT INTO daily_bot_stats (day, bot_id, subscribed, opted_out)"
        " SELECT (now() AT TIME ZONE 'UTC')::date - back, $1, joined, left_chats"
        " FROM (VALUES (6, 40, 2), (2, 25, 5)) AS earlier (back, joined, left_chats)",
        setup.bot.id,
    )
    await apply_campaign(setup, "launch", start=True)
    await deep_link_start(setup, pool, "spring")

    page = await signed_in(browser, setup, setup.admin)
    await page.get_by_role("link", name="Audience").click()
    await page.wait_for_url("**/audience")
    await page.locator("#growth-chart canvas").first.wait_for()
    assert await canvas_drawn(page, "#growth-chart canvas")
    growth = json.loads(await page.locator("#growth-data").inner_text())
    assert growth["subscribed"][-1] == AUDIENCE + 1
    assert growth["subscribed"][-3] == 25
    assert growth["subscribed"][-7] == 40
    assert sum(growth["opted_out"]) == 7
    assert await figure(page, "[data-figure=joined]") == 40 + 25 + AUDIENCE + 1
    assert await page.locator("tr[data-source=spring] td.n").first.inner_text() == "1"
    await shoot(page, "audience")

    # After the run: its steps on the Bots page and in the activity, as lines.
    await wait_for(pool, "SELECT EXISTS (SELECT 1 FROM events WHERE kind = 'run.finished')")
    sent = await pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sent'")
    await page.get_by_role("link", name="Bots").click()
    card = page.locator("[data-bot=news]")
    finished = card.locator(".events li[data-kind='run.finished']")
    await finished.wait_for()
    assert f"Run 1 of launch finished, done: {sent} sent" in await finished.inner_text()
    assert await card.locator(".events li[data-kind='run.started']").count() == 1
    assert await card.get_by_role("link", name="launch").count() == 1
    await shoot(page, "bots")

    await page.get_by_role("link", name="Activity").click()
    await page.wait_for_url("**/activity")
    lines = page.locator("ol.activity li")
    assert await lines.first.get_attribute("data-kind") == "run.finished"
    subscribed = page.locator("li[data-kind='subscriber.subscribed']")
    assert f"Chat {PERSON} subscribed to news (source: spring)" in await subscribed.inner_text()
    await shoot(page, "activity")
    await page.get_by_label("Kind").select_option("run.started")
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_url("**/activity?kind=run.started*")
    assert await lines.count() == 1
    assert "Run 1 of launch started: 120 chats" in await lines.first.inner_text()
