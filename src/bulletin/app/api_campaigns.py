"""Campaign actions through the API: the CLI's use cases, each answered with what it changed."""

from __future__ import annotations

from typing import Any

from bulletin import config, models
from bulletin.app import campaigns, preflight
from bulletin.campaign.lifecycle import Action
from bulletin.db import campaigns as campaign_rows
from bulletin.db.pool import Pool

MAX_SAMPLES = 50  # as `campaign preview --samples`


def row(campaign: models.Campaign, number: int | None, run_status: str | None) -> dict[str, Any]:
    """What `campaign list --json` prints of one campaign."""
    return {
        "name": campaign.name,
        "bot": campaign.bot_name,
        "status": campaign.status.value,
        "paused_reason": campaign.paused_reason,
        "last_run": number,
        "last_run_status": run_status,
        "text": campaign.text,
    }


async def listed(pool: Pool) -> list[dict[str, Any]]:
    """`campaign list --json`: every campaign with its latest run."""
    return [row(*item) for item in await campaigns.list_all(pool)]


async def preview(pool: Pool, name: str, samples: int) -> dict[str, Any]:
    """The audience a run would have now, and messages rendered for a few subscribers."""
    return (await preflight.preview(pool, name, samples)).as_json(name)


async def check(
    pool: Pool, settings: config.Settings, name: str, test_chat: int | None
) -> dict[str, Any]:
    """`campaign check`: passed, or the problems it found (a failed check is an answer)."""
    audience, problems = await preflight.check(pool, settings, name, test_chat)
    return {
        "campaign": name,
        "passed": not problems,
        "audience": audience,
        "problems": problems,
        "test_chat": test_chat,
    }


async def pause(pool: Pool, name: str) -> dict[str, Any]:
    """`campaign pause`, answered with what changed."""
    return await act(pool, name, Action.PAUSE)


async def resume(pool: Pool, name: str) -> dict[str, Any]:
    """`campaign resume`, answered with what changed."""
    return await act(pool, name, Action.RESUME)


async def cancel(pool: Pool, name: str) -> dict[str, Any]:
    """`campaign cancel`, answered with what changed."""
    return await act(pool, name, Action.CANCEL)


async def act(pool: Pool, name: str, action: Action) -> dict[str, Any]:
    """Pause, resume or cancel a campaign: how many runs it touched, and its status after."""
    skipped = None
    if action is Action.PAUSE:
        runs = await campaigns.pause(pool, name)
    elif action is Action.RESUME:
        runs = await campaigns.resume(pool, name)
    else:
        runs, skipped = await campaigns.cancel(pool, name)
    async with pool.acquire() as connection:
        after = await campaign_rows.find(connection, name)
    answer: dict[str, Any] = {
        "campaign": name,
        "action": action.value,
        "status": after.status.value,
        "runs": runs,
    }
    if skipped is not None:
        answer["skipped"] = skipped
    return answer


async def delete(pool: Pool, name: str) -> dict[str, Any]:
    """`campaign delete`: a draft or finished campaign, with its runs and deliveries."""
    runs, deliveries = await campaigns.delete(pool, name)
    return {"campaign": name, "deleted": True, "runs": runs, "deliveries": deliveries}
