"""The routes of /api/v1/bots: `bot list | add | set | remove`, never showing a token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from bulletin.app import api_bots
from bulletin.web import api, auth, problems, schemas

router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(auth.check)],
    responses=problems.documented(400, 401, 403, 404, 409, 413, 422, 503),
    tags=["bots"],
)


@router.get("/bots", response_model=list[schemas.Bot])
async def list_bots(pool: api.PoolOf) -> list[dict[str, Any]]:
    """Registered bots with their status, pace and audience, as `bot list --json`."""
    return await api_bots.listed(pool)


@router.post("/bots", response_model=schemas.Bot, status_code=201)
async def add_bot(
    body: schemas.BotAdd, pool: api.PoolOf, settings: api.SettingsOf
) -> dict[str, Any]:
    """Check a token with getMe and register the bot (`bot add`)."""
    return await api_bots.add(
        pool,
        settings,
        token=body.token,
        name=body.name,
        api_url=body.api_url,
        rate_per_s=body.rate_per_s,
        paid_broadcast=body.paid_broadcast,
        proxies=body.proxies,
    )


@router.patch("/bots/{name}", response_model=schemas.Bot)
async def change_bot(
    name: schemas.BotName, body: schemas.BotChange, pool: api.PoolOf, settings: api.SettingsOf
) -> dict[str, Any]:
    """Change a bot's pace, proxies or Bot API server (`bot set`); workers pick it up."""
    return await api_bots.change(
        pool,
        settings,
        name,
        rate_per_s=body.rate_per_s,
        paid_broadcast=body.paid_broadcast,
        proxies=body.proxies,
        api_url=body.api_url,
    )


@router.delete("/bots/{name}", response_model=schemas.BotRemoved)
async def remove_bot(name: schemas.BotName, pool: api.PoolOf) -> dict[str, Any]:
    """Remove a bot and its audience (`bot remove`); 409 while campaigns use it."""
    return await api_bots.remove(pool, name)
