"""Registering bots (each token checked with getMe), their pace, proxies and API server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bulletin import config, errors, models
from bulletin.db import bots as bot_rows
from bulletin.db.connection import Connection
from bulletin.db.pool import Pool
from bulletin.redact import check_proxy
from bulletin.redact import mask_proxy as mask_proxy  # for what lists bots

if TYPE_CHECKING:
    from bulletin.telegram.client import Identity


def checked_proxies(proxies: list[str] | None) -> list[str] | None:
    """--proxy values, each scheme://[user:password@]host:port or `direct`, else InputError."""
    if proxies is None:
        return None
    try:
        return [check_proxy(proxy.strip()) for proxy in proxies]
    except ValueError as exc:
        raise errors.InputError(str(exc)) from None


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
) -> models.Bot:
    """Check a token with getMe and register the bot (named after its username by default)."""
    identity = await get_me(settings, token, api_url, proxies)
    async with pool.acquire() as connection:
        return await bot_rows.insert(
            connection,
            bot_id=identity.id,
            name=name or identity.username,
            username=identity.username,
            token=token,
            api_url=api_url,
            rate_per_s=rate_per_s,
            paid_broadcast=paid_broadcast,
            proxies=proxies,
        )


async def get_me(
    settings: config.Settings, token: str, api_url: str, proxies: Sequence[str]
) -> Identity:
    """Who the token belongs to, asked of the API server at api_url (getMe)."""
    from bulletin.telegram.client import BotClient  # aiogram takes seconds to import

    client = BotClient(
        token,
        api_url,
        timeout_s=settings.worker.request_timeout_s,
        proxies=proxies or settings.telegram.proxies,
    )
    try:
        return await client.get_me()
    finally:
        await client.close()


@dataclass(frozen=True, slots=True)
class Listed:
    bot: models.Bot
    subscribed: int  # chats subscribed to it now

    def row(self) -> dict[str, object]:
        """What `bot list --json` prints of it: the token masked, any credentials hidden."""
        bot = self.bot
        return {
            "name": bot.name,
            "username": bot.username,
            "id": bot.id,
            "token": bot.masked_token,
            "api_url": mask_proxy(bot.api_url),  # masks any URL's credentials
            "rate_per_s": bot.rate_per_s,
            "status": bot.status.value,
            "paid_broadcast": bot.paid_broadcast,
            "subscribed": self.subscribed,
            "proxies": [mask_proxy(proxy) for proxy in bot.proxies],
        }


async def list_all(pool: Pool) -> list[Listed]:
    """Registered bots with the size of their audience."""
    async with pool.acquire() as connection:
        return [Listed(bot, n) for bot, n in await bot_rows.list_with_counts(connection)]


async def remove(pool: Pool, bot: str) -> models.Bot:
    """Remove a bot and its audience (refused while campaigns use it)."""
    async with pool.acquire() as connection:
        found = await bot_rows.find(connection, bot)
        await bot_rows.remove(connection, found)
    return found


async def change(
    pool: Pool,
    settings: config.Settings,
    bot: str,
    *,
    rate_per_s: float | None = None,
    paid_broadcast: bool | None = None,
    proxies: Sequence[str] | None = None,
    api_url: str | None = None,
) -> models.Bot:
    """Change a bot's pace, proxies (empty: the global ones) or API server (checked first)."""
    async with pool.acquire() as connection:
        found = await bot_rows.find(connection, bot)
        if api_url is not None:
            await _move(connection, settings, found, api_url)
        return await bot_rows.set_pace(
            connection,
            found.id,
            rate_per_s=rate_per_s,
            paid_broadcast=paid_broadcast,
            proxies=proxies,
        )


async def _move(
    connection: Connection, settings: config.Settings, bot: models.Bot, api_url: str
) -> None:
    """Point a bot at another API server once that server says the token is this bot's."""
    identity = await get_me(settings, bot.token, api_url, bot.proxies)
    if identity.id != bot.id:
        raise errors.TokenRejected(
            f"{api_url} says token {bot.masked_token} is bot {identity.id}, not {bot.name!r}"
        )
    await bot_rows.update_endpoint(
        connection, bot.id, token=bot.token, api_url=api_url, rate_per_s=bot.rate_per_s
    )


async def register_or_update(
    pool: Pool, settings: config.Settings, *, name: str, token: str, api_url: str, rate_per_s: float
) -> models.Bot:
    """The bot a token belongs to, registered under `name`, or pointed at api_url if known."""
    identity = await get_me(settings, token, api_url, ())
    async with pool.acquire() as connection:
        try:
            existing = await bot_rows.by_id(connection, identity.id)
        except errors.NotFound:
            return await bot_rows.insert(
                connection,
                bot_id=identity.id,
                name=name,
                username=identity.username,
                token=token,
                api_url=api_url,
                rate_per_s=rate_per_s,
            )
        return await bot_rows.update_endpoint(
            connection, existing.id, token=token, api_url=api_url, rate_per_s=rate_per_s
        )
