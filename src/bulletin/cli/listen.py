"""`bulletin listen`: keep every active bot's audience true to what people chose, live."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from bulletin import config, errors, models
from bulletin.cli.context import Options, database, run, stop_on_signals
from bulletin.cli.output import error_console
from bulletin.db import bots as bot_rows
from bulletin.db.pool import Pool

DEFAULT_WEBHOOK_PORT = 8443


def register(app: typer.Typer) -> None:
    app.command("listen")(listen)


def listen(
    ctx: typer.Context,
    bot: Annotated[
        list[str] | None, typer.Option(help="Only this bot (repeatable); default: every active bot")
    ] = None,
    webhook_base: Annotated[
        str | None,
        typer.Option(
            "--webhook-base",
            help="Receive updates by webhook at this public URL (e.g. https://bots.example.org); "
            "without it, by long polling",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Webhook server address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Webhook server port")] = DEFAULT_WEBHOOK_PORT,
) -> None:
    """Record /start, /stop, blocks, group adds and removals until SIGINT/SIGTERM."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with database(settings) as pool:
            await receive_updates(
                pool, settings, stop, bots=bot, webhook_base=webhook_base, host=host, port=port,
                send_replies=True,
            )  # fmt: skip
        error_console.print("stopped", markup=False)

    run(go())


async def receive_updates(
    pool: Pool,
    settings: config.Settings,
    stop: asyncio.Event,
    *,
    bots: list[str] | None = None,
    webhook_base: str | None = None,
    host: str = "127.0.0.1",
    port: int = DEFAULT_WEBHOOK_PORT,
    send_replies: bool = False,
) -> None:
    """Apply every active bot's updates until stop: by webhook with a base URL, else by polling.

    Replies wait in the outbox for the worker holding their bot's lease. With send_replies
    (`bulletin listen`), this process sends them itself while no worker holds the bot;
    `serve --webhook-base URL` runs this next to its workers, which send them.
    """
    # aiogram takes seconds to import: only commands that talk to Telegram pay for it.
    from bulletin.db.updates import UpdateStore
    from bulletin.telegram import webhook
    from bulletin.telegram.client import client_for
    from bulletin.telegram.listener import Listener, poll_all

    store = UpdateStore(pool)
    await store.prune()
    chosen = await _listened_bots(pool, bots)
    listeners = [
        Listener(
            bot,
            client_for(bot, settings, timeout_s=settings.listener.reply_timeout_s),
            store,
            settings.listener,
        )
        for bot in chosen
    ]
    names = ", ".join(f"@{bot.username}" for bot in chosen)
    # The outbox-only sender stops with the listeners.
    replies_stop = asyncio.Event()
    replying = (
        asyncio.create_task(_send_replies(pool, settings, replies_stop, [b.id for b in chosen]))
        if send_replies
        else None
    )
    try:
        if webhook_base is not None:
            async with webhook.serving(listeners, webhook_base, host, port) as server:
                error_console.print(
                    f"listening for {names} by webhook at {server.base_url}; Ctrl-C to stop",
                    markup=False,
                )
                await stop.wait()
        else:
            error_console.print(f"listening for {names} by long polling; Ctrl-C to stop")
            await poll_all(listeners, stop)
    finally:
        if replying is not None:
            replies_stop.set()
            await replying
        for listener in listeners:
            await listener.client.close()


async def _send_replies(
    pool: Pool, settings: config.Settings, stop: asyncio.Event, bot_ids: list[int]
) -> None:
    """The outbox-only sender: leases a listened bot while its outbox waits and nobody holds it."""
    from bulletin.cli.delivery import make_worker

    await make_worker(pool, settings, only_bots=bot_ids, outbox_only=True).run(stop)


async def _listened_bots(pool: Pool, names: list[str] | None) -> list[models.Bot]:
    async with pool.acquire() as connection:
        if names:
            chosen = [await bot_rows.find(connection, name) for name in names]
        else:
            chosen = [bot for bot, _ in await bot_rows.list_with_counts(connection)]
    active = [bot for bot in chosen if bot.status is models.BotStatus.ACTIVE]
    if not active:
        raise errors.NotFound("no active bot to listen for (see `bulletin bot list`)")
    return active
