"""Bots through the API: the CLI's use cases, answered without a token, and pointed only at
the Bot API servers and proxies this server's config names.

The CLI is run by whoever holds the config and the database, who can read the tokens
anyway; an API client cannot. So the client may not make the server talk to a URL of its
choosing (it would learn what the server can reach, or catch a bot's token sent there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bulletin import config, errors, models
from bulletin.app import bots
from bulletin.db.pool import Pool
from bulletin.redact import DIRECT

HIDDEN = ("token",)  # the masked token too: an answer carries nothing of a token


async def listed(pool: Pool) -> list[dict[str, Any]]:
    """`bot list --json`, without the tokens."""
    return [_answer(item) for item in await bots.list_all(pool)]


async def add(
    pool: Pool,
    settings: config.Settings,
    *,
    token: str,
    name: str | None,
    api_url: str,
    rate_per_s: float,
    paid_broadcast: bool,
    proxies: Sequence[str],
) -> dict[str, Any]:
    """`bot add`: the token checked with getMe at one of the allowed Bot API servers."""
    checked_url = allowed_api_url(settings, api_url)
    bot = await bots.add(
        pool,
        settings,
        token=token.strip(),
        name=name,
        api_url=checked_url,
        rate_per_s=rate_per_s,
        paid_broadcast=paid_broadcast,
        proxies=allowed_proxies(settings, proxies),
    )
    return await _described(pool, bot)


async def change(
    pool: Pool,
    settings: config.Settings,
    name: str,
    *,
    rate_per_s: float | None,
    paid_broadcast: bool | None,
    proxies: Sequence[str] | None,
    api_url: str | None,
) -> dict[str, Any]:
    """`bot set`: pace, proxies (empty: the global ones again) or Bot API server."""
    bot = await bots.change(
        pool,
        settings,
        name,
        rate_per_s=rate_per_s,
        paid_broadcast=paid_broadcast,
        proxies=None if proxies is None else allowed_proxies(settings, proxies),
        api_url=None if api_url is None else allowed_api_url(settings, api_url),
    )
    return await _described(pool, bot)


async def remove(pool: Pool, name: str) -> dict[str, Any]:
    """`bot remove` (refused while campaigns use it)."""
    bot = await bots.remove(pool, name)
    return {"name": bot.name, "id": bot.id, "removed": True}


def allowed_api_url(settings: config.Settings, api_url: str) -> str:
    """api_url if the config's `[web] bot_api_urls` names it, else InputError."""
    allowed = {url.rstrip("/"): url for url in settings.web.bot_api_urls}
    found = allowed.get(api_url.strip().rstrip("/"))
    if found is None:
        raise errors.InputError(
            f"api_url: {bots.mask_proxy(api_url)!r} is not a Bot API server this server may "
            "use (its config's [web] bot_api_urls)"
        )
    return found


def allowed_proxies(settings: config.Settings, proxies: Sequence[str]) -> list[str]:
    """Proxies among the config's `[telegram] proxies` (or `direct`), else InputError."""
    checked = bots.checked_proxies(list(proxies)) or []
    allowed = {DIRECT, *settings.telegram.proxies}
    for index, proxy in enumerate(checked):
        if proxy not in allowed:
            raise errors.InputError(
                f"proxies.{index}: {bots.mask_proxy(proxy)} is not one of this server's "
                f"proxies (its config's [telegram] proxies, or {DIRECT})"
            )
    return checked


async def _described(pool: Pool, bot: models.Bot) -> dict[str, Any]:
    found = next((item for item in await bots.list_all(pool) if item.bot.id == bot.id), None)
    return _answer(found or bots.Listed(bot, 0))


def _answer(item: bots.Listed) -> dict[str, Any]:
    return {key: value for key, value in item.row().items() if key not in HIDDEN}
