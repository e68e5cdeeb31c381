"""The routes of /api/v1: each parses, calls one use case, and answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request

from bulletin import config
from bulletin.app import api_campaigns, api_views, reports, stats
from bulletin.app.api_views import Pool
from bulletin.web import auth, problems, schemas

router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(auth.check)],
    responses=problems.documented(400, 401, 403, 404, 409, 413, 422, 503),
)


def pool_of(request: Request) -> Pool:
    access: auth.Access = request.app.state.access
    return access.pool


PoolOf = Annotated[Pool, Depends(pool_of)]


def settings_of(request: Request) -> config.Settings:
    settings: config.Settings = request.app.state.settings
    return settings


SettingsOf = Annotated[config.Settings, Depends(settings_of)]


@router.get("/campaigns", response_model=list[schemas.CampaignListed], tags=["campaigns"])
async def list_campaigns(pool: PoolOf) -> list[dict[str, Any]]:
    """Every campaign with its latest run, as `campaign list --json`."""
    return await api_campaigns.listed(pool)


@router.put("/campaigns/{name}", response_model=schemas.Saved, tags=["campaigns"])
async def apply_campaign(
    name: schemas.Name,
    pool: PoolOf,
    document: Annotated[
        dict[str, Any],
        Body(description="The document `campaign apply` reads, as JSON; media by URL or file_id"),
    ],
) -> schemas.Saved:
    """Create or update a campaign; nothing is written if any variant cannot be sent."""
    campaign, outcome = await api_views.apply(pool, name, document)
    variants = len(document.get("variants") or [None])
    return schemas.Saved(name=campaign.name, outcome=outcome, variants=variants)


@router.get("/campaigns/{name}", tags=["campaigns"])
async def show_campaign(name: schemas.Name, pool: PoolOf) -> dict[str, Any]:
    """The campaign as `campaign show --format json` prints it (PUT it back unchanged)."""
    return await api_views.design(pool, name)


@router.delete("/campaigns/{name}", response_model=schemas.Deleted, tags=["campaigns"])
async def delete_campaign(name: schemas.Name, pool: PoolOf) -> dict[str, Any]:
    """Delete a draft or finished campaign with its runs and deliveries; 409 while a run is
    unfinished."""
    return await api_campaigns.delete(pool, name)


@router.post("/campaigns/{name}/preview", response_model=schemas.Preview, tags=["campaigns"])
async def preview_campaign(
    name: schemas.Name,
    pool: PoolOf,
    samples: Annotated[
        int, Query(ge=0, le=api_campaigns.MAX_SAMPLES, description="Subscribers rendered")
    ] = 3,
) -> dict[str, Any]:
    """The audience a run now would reach (what a run would count), and rendered samples."""
    return await api_campaigns.preview(pool, name, samples)


@router.post("/campaigns/{name}/check", response_model=schemas.Checked, tags=["campaigns"])
async def check_campaign(
    name: schemas.Name,
    pool: PoolOf,
    settings: SettingsOf,
    body: schemas.CheckRequest | None = None,
) -> dict[str, Any]:
    """The pre-flight check (render, parse, lengths, media; optionally a test send)."""
    test_chat = body.test_chat if body is not None else None
    return await api_campaigns.check(pool, settings, name, test_chat)


@router.post("/campaigns/{name}/pause", response_model=schemas.Acted, tags=["runs"])
async def pause_campaign(name: schemas.Name, pool: PoolOf) -> dict[str, Any]:
    """Its runs stop sending and its schedule starts nothing until resumed; 409 if it cannot."""
    return await api_campaigns.pause(pool, name)


@router.post("/campaigns/{name}/resume", response_model=schemas.Acted, tags=["runs"])
async def resume_campaign(name: schemas.Name, pool: PoolOf) -> dict[str, Any]:
    """A paused campaign sends again; 409 if it cannot."""
    return await api_campaigns.resume(pool, name)


@router.post("/campaigns/{name}/cancel", response_model=schemas.Acted, tags=["runs"])
async def cancel_campaign(name: schemas.Name, pool: PoolOf) -> dict[str, Any]:
    """End a campaign for good: its runs end, pending deliveries are skipped; 409 if it
    cannot."""
    return await api_campaigns.cancel(pool, name)


@router.post("/campaigns/{name}/start", response_model=schemas.Started, tags=["runs"])
async def start_campaign(
    name: schemas.Name,
    pool: PoolOf,
    idempotency_key: Annotated[
        str | None, Header(description="A retry with the same key starts nothing more")
    ] = None,
) -> dict[str, Any]:
    """Check the campaign, then start a run (or arm its schedule); `nothing_to_send` when
    every chat of the segment had it already."""
    return await api_views.start_once(pool, name, idempotency_key)


@router.get("/campaigns/{name}/runs", response_model=list[schemas.RunSummary], tags=["runs"])
async def list_runs(name: schemas.Name, pool: PoolOf) -> list[dict[str, Any]]:
    """Every run of the campaign, oldest first."""
    return await api_views.runs_of(pool, name)


@router.get("/campaigns/{name}/runs/{number}", response_model=schemas.RunStatus, tags=["runs"])
async def run_status(name: schemas.Name, number: schemas.RunNumber, pool: PoolOf) -> dict[str, Any]:
    """Where a run stands, as `campaign status --run N --json` says."""
    return await api_views.status(pool, name, number)


@router.get(
    "/campaigns/{name}/runs/{number}/deliveries",
    response_model=schemas.DeliveryPage,
    tags=["runs"],
)
async def run_deliveries(
    name: schemas.Name,
    number: schemas.RunNumber,
    pool: PoolOf,
    outcome: reports.Outcome | None = None,
    after: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="`next_after` of the page before")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Who got the message and who did not, and why: a page of the run's deliveries."""
    page, next_after = await api_views.deliveries(
        pool, name, number, outcome=outcome, after=after, limit=limit
    )
    return {"deliveries": page, "next_after": next_after}


@router.get("/stats/daily", response_model=schemas.DailyStats, tags=["stats"])
async def daily_stats(
    pool: PoolOf,
    bot: schemas.NameFilter = None,
    campaign: schemas.NameFilter = None,
    days: Annotated[int, Query(ge=1, le=stats.MAX_DAYS)] = 30,
) -> dict[str, Any]:
    """`bulletin stats --json`: per bot, or per variant of one campaign, per UTC day."""
    found = await stats.daily(pool, bot=bot, campaign=campaign, days=days)
    return found.as_json()
