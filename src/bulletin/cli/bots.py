"""`bulletin bot`: register bots (validated with getMe), list and remove them."""

from __future__ import annotations

from typing import Annotated

import typer

from bulletin.app import bots
from bulletin.app.database import database
from bulletin.cli.context import Options, run
from bulletin.cli.output import console, print_json, print_table
from bulletin.models import DEFAULT_API_URL

app = typer.Typer(help="Register and manage bots.", no_args_is_help=True)

ProxyOption = Annotated[
    list[str] | None,
    typer.Option(
        help="HTTP or SOCKS proxy to reach the Bot API, tried in order (repeatable; "
        "'direct' for none). For connectivity only: never switched on Telegram's answers."
    ),
]


@app.command("add")
def add(
    ctx: typer.Context,
    token: Annotated[str, typer.Argument(help="The bot token from @BotFather", show_default=False)],
    name: Annotated[
        str | None, typer.Option(help="A short name (default: the bot's username)")
    ] = None,
    api_url: Annotated[
        str, typer.Option("--api-url", help="Bot API server (a sandbox or self-hosted one)")
    ] = DEFAULT_API_URL,
    rate: Annotated[
        float, typer.Option(help="Messages per second for this bot", min=0.1, max=1000)
    ] = 30.0,
    paid_broadcast: Annotated[
        bool,
        typer.Option(help="Send with allow_paid_broadcast (up to 1000 msgs/s, billed in Stars)"),
    ] = False,
    proxy: ProxyOption = None,
) -> None:
    """Check a token with getMe and register the bot."""
    settings = ctx.ensure_object(Options).settings()
    proxy = bots.checked_proxies(proxy)

    async def go() -> None:
        async with database(settings) as pool:
            bot = await bots.add(
                pool,
                settings,
                token=token.strip(),
                name=name,
                api_url=api_url,
                rate_per_s=rate,
                paid_broadcast=paid_broadcast,
                proxies=proxy or (),
            )
        console.print(
            f"added bot [bold]{bot.name}[/] (@{bot.username}, id {bot.id}, token "
            f"{bot.masked_token}, {bot.rate_per_s:g} msgs/s)"
        )

    run(go())


@app.command("list")
def list_bots(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False
) -> None:
    """Registered bots with their status and audience."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> None:
        async with database(settings) as pool:
            listed = await bots.list_all(pool)
        rows = [item.row() for item in listed]
        if as_json:
            print_json(rows)
            return
        print_table(
            "bots",
            [
                *["name", "username", "id", "token", "status", "msgs/s", "paid", "subscribed"],
                *["api", "proxies"],
            ],
            [
                [
                    r["name"],
                    f"@{r['username']}",
                    r["id"],
                    r["token"],
                    r["status"],
                    r["rate_per_s"],
                    "yes" if r["paid_broadcast"] else "no",
                    r["subscribed"],
                    r["api_url"],
                    ", ".join(bots.mask_proxy(proxy) for proxy in bot.proxies) or "-",
                ]
                for r, bot in zip(rows, (item.bot for item in listed), strict=True)
            ],
        )

    run(go())


@app.command("remove")
def remove(
    ctx: typer.Context,
    bot: Annotated[str, typer.Argument(help="Name, @username or id")],
) -> None:
    """Remove a bot and its audience (refused while campaigns use it)."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> None:
        async with database(settings) as pool:
            found = await bots.remove(pool, bot)
        console.print(f"removed bot {found.name}")

    run(go())


@app.command("set")
def set_pace(
    ctx: typer.Context,
    bot: Annotated[str, typer.Argument(help="Name, @username or id")],
    rate: Annotated[
        float | None, typer.Option(help="Messages per second", min=0.1, max=1000)
    ] = None,
    paid_broadcast: Annotated[
        bool | None,
        typer.Option(
            "--paid-broadcast/--no-paid-broadcast",
            help="Send with allow_paid_broadcast (up to 1000 msgs/s, billed in Stars)",
        ),
    ] = None,
    proxy: ProxyOption = None,
    no_proxy: Annotated[
        bool, typer.Option("--no-proxy", help="Use the global proxies (or none) again")
    ] = False,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", help="Another Bot API server, checked with getMe first"),
    ] = None,
) -> None:
    """Change a bot's pace, proxies or API server; running workers pick it up within a lease
    interval."""
    settings = ctx.ensure_object(Options).settings()
    proxy = bots.checked_proxies(proxy)

    async def go() -> None:
        async with database(settings) as pool:
            changed = await bots.change(
                pool,
                settings,
                bot,
                rate_per_s=rate,
                paid_broadcast=paid_broadcast,
                proxies=[] if no_proxy else proxy,
                api_url=api_url,
            )
        paid = "on (billed in Stars by Telegram)" if changed.paid_broadcast else "off"
        console.print(
            f"bot {changed.name}: {changed.rate_per_s:g} msgs/s, paid broadcast {paid}, "
            f"API {changed.api_url}",
            markup=False,
            highlight=False,
        )

    run(go())
