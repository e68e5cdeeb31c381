"""The dashboard's pages and the fragments they poll: each reads one use case and renders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse

from bulletin.app import activity, bot_health, dashboard, growth, reports, sessions
from bulletin.app.api_views import Pool
from bulletin.web import schemas
from bulletin.web.dashboard import guard, render

router = APIRouter(route_class=guard.GuardedRoute, include_in_schema=False)
SessionOf = Annotated[sessions.Session, Depends(guard.current)]
After = Annotated[int, Query(ge=0, le=2**63 - 1)]
Before = Annotated[int, Query(ge=1, le=activity.LATEST)]
# A filter's "every …" choice arrives blank: blank means no filter; the use case checks the rest.
Filter = Annotated[str | None, Query(max_length=64)]
LIVE_EVERY = "every 2s"  # htmx polls the live parts this often


def pool_of(request: Request) -> Pool:
    return guard.access_of(request).pool


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    resolved = await sessions.resolve(
        pool_of(request),
        request.cookies.get(guard.COOKIE),
        loopback=guard.access_of(request).loopback,
    )
    if resolved.session is not None:  # signed in already, or open access
        request.state.new_cookie = resolved.new_cookie
        return RedirectResponse(guard.local_path(next), 303)
    return render.page(request, "login.html", next=guard.local_path(next), problem=None)


@router.get("/")
async def overview(request: Request, session: SessionOf) -> Response:
    found = await dashboard.overview(pool_of(request))
    return render.page(request, "overview.html", overview=found, live_every=LIVE_EVERY)


@router.get("/fragments/overview")
async def overview_live(request: Request, session: SessionOf) -> Response:
    found = await dashboard.overview(pool_of(request))
    return render.page(request, "_overview_live.html", overview=found, live_every=LIVE_EVERY)


@router.get("/campaigns")
async def campaigns(request: Request, session: SessionOf) -> Response:
    found = await dashboard.campaigns(pool_of(request))
    return render.page(request, "campaigns.html", campaigns=found)


@router.get("/campaigns/{name}")
async def campaign(
    request: Request, name: schemas.Name, session: SessionOf, done: str | None = None
) -> Response:
    found, summaries = await dashboard.campaign(pool_of(request), name)
    return render.page(request, "campaign.html", campaign=found, runs=summaries, done=done)


@router.get("/campaigns/{name}/runs/{number}")
async def run(
    request: Request,
    name: schemas.Name,
    number: schemas.RunNumber,
    session: SessionOf,
    outcome: reports.Outcome | None = None,
    after: After = 0,
    done: str | None = None,
) -> Response:
    found = await dashboard.run_page(pool_of(request), name, number, outcome=outcome, after=after)
    return render.page(
        request,
        "run.html",
        page=found,
        campaign=found.campaign,
        live=found.live,
        live_every=LIVE_EVERY,
        outcomes=list(reports.Outcome),
        done=done,
    )


@router.get("/campaigns/{name}/runs/{number}/live")
async def run_live(
    request: Request, name: schemas.Name, number: schemas.RunNumber, session: SessionOf
) -> Response:
    found, live = await dashboard.run_live(pool_of(request), name, number)
    return render.page(request, "_run_live.html", campaign=found, live=live, live_every=LIVE_EVERY)


@router.get("/campaigns/{name}/runs/{number}/throughput.json")
async def throughput(
    request: Request, name: schemas.Name, number: schemas.RunNumber, session: SessionOf
) -> Response:
    found = await dashboard.throughput(pool_of(request), name, number)
    return JSONResponse(found.as_json())


@router.get("/campaigns/{name}/runs/{number}/report.csv")
async def report_csv(
    request: Request,
    name: schemas.Name,
    number: schemas.RunNumber,
    session: SessionOf,
    outcome: reports.Outcome | None = None,
) -> Response:
    """`campaign report`'s CSV, streamed: memory stays flat whatever the run's size."""
    run, chunks = await dashboard.report_csv(pool_of(request), name, number, outcome)
    suffix = f"-{outcome.value}" if outcome is not None else ""
    filename = f"run-{run.id}-report{suffix}.csv"  # ids only: a name may hold anything
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _given(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


@router.get("/audience")
async def audience(request: Request, session: SessionOf, bot: Filter = None) -> Response:
    found = await growth.audience_page(pool_of(request), _given(bot))
    return render.page(request, "audience.html", page=found)


@router.get("/bots")
async def bots(request: Request, session: SessionOf) -> Response:
    found = await bot_health.bots_page(pool_of(request))
    return render.page(request, "bots.html", bots=found, live_every=LIVE_EVERY)


@router.get("/fragments/bots")
async def bots_live(request: Request, session: SessionOf) -> Response:
    found = await bot_health.bots_live(pool_of(request))
    return render.page(request, "_bots_live.html", bots=found)


@router.get("/activity")
async def activity_log(
    request: Request,
    session: SessionOf,
    kind: Filter = None,
    bot: Filter = None,
    before: Before = activity.LATEST,
) -> Response:
    found = await activity.activity_page(
        pool_of(request), kind=_given(kind), bot=_given(bot), before=before
    )
    return render.page(request, "activity.html", page=found)
