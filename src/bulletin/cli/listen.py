"""`bulletin listen`: keep every active bot's audience true to what people chose, live."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from bulletin.app import serve as serving
from bulletin.app.database import database
from bulletin.cli.context import Options, run, stop_on_signals
from bulletin.cli.output import announce, error_console


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
    port: Annotated[int, typer.Option(help="Webhook server port")] = serving.DEFAULT_WEBHOOK_PORT,
) -> None:
    """Record /start, /stop, blocks, group adds and removals until SIGINT/SIGTERM."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with database(settings) as pool:
            await serving.receive_updates(
                pool, settings, stop, announce, bots=bot, webhook_base=webhook_base, host=host,
                port=port, send_replies=True,
            )  # fmt: skip
        error_console.print("stopped", markup=False)

    run(go())
