"""`bulletin demo`: a real campaign end to end against the built-in sandbox, with no setup."""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from bulletin import config, errors, models
from bulletin.app import audience, bots, campaigns, database, runs
from bulletin.app.database import Pool
from bulletin.cli.context import Options, run
from bulletin.cli.delivery import deliver_with_progress
from bulletin.cli.output import command_name, console, print_mapping
from bulletin.sandbox import Sandbox, World

DEMO_BOT = "demo"
DEMO_TEXT = (
    "<b>Hello from bulletin!</b>\nThis is a demo broadcast, paced just under Telegram's limits."
)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    ctx: typer.Context,
    users: Annotated[int, typer.Option(min=1, max=100_000, help="Audience size")] = 1000,
    rate: Annotated[float, typer.Option(min=1, help="The sandbox bot's limit in msgs/s")] = 30.0,
) -> None:
    """Start the embedded PostgreSQL and the sandbox, then run a campaign to a generated audience."""
    settings = ctx.ensure_object(Options).settings()
    run(_demo(settings, users, rate))


async def _demo(settings: config.Settings, users: int, rate: float) -> None:
    began = time.monotonic()
    console.print(f"[bold]1/5[/] database: {await database.where(settings)}")
    world = World.generate(users, blocked=0.03, gone=0.01, deactivated=0.01, seed=1)
    sandbox_bot = world.add_bot(rate_per_s=rate)
    async with (
        Sandbox(world) as sandbox,
        database.database(settings, check_schema=False, max_size=20) as pool,
    ):
        console.print(f"[bold]2/5[/] sandbox Bot API at {sandbox.url} ({rate:g} msgs/s per bot)")
        await database.migrate(pool)
        bot = await bots.register_or_update(
            pool,
            settings,
            name=DEMO_BOT,
            token=sandbox_bot.token,
            api_url=sandbox.url,
            rate_per_s=rate,
        )
        console.print(f"[bold]3/5[/] bot {bot.name} (@{bot.username}, token {bot.masked_token})")
        imported = await _import_audience(pool, world, bot)
        console.print(f"[bold]4/5[/] imported {imported:,} subscribers (a few blocked or gone)")
        campaign, started = await _start_campaign(pool, bot)
        console.print(f"[bold]5/5[/] campaign {campaign.name}: {started.label}")
        finished = await deliver_with_progress(pool, settings, started, [bot.id])
        print_mapping(
            "sandbox saw",
            {
                "messages accepted": sandbox.stats.accepted,
                "429 answers": sandbox.stats.too_many_requests,
                "sends inside retry_after": sandbox.stats.requests_during_retry_after,
            },
        )
    console.print(f"demo finished in {time.monotonic() - began:.1f} s; go on by hand:")
    _print_next_steps(campaign.name)
    if finished.status is not models.RunStatus.DONE:
        raise errors.BulletinError(f"the demo run ended {finished.status.value}")


async def _import_audience(pool: Pool, world: World, bot: models.Bot) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "audience.csv"
        world.write_audience_csv(path)
        imported = await audience.import_file(
            pool,
            bot=bot.name,
            path=str(path),
            stdin=sys.stdin,
            tags=("demo",),
            resubscribe=False,
            skip_invalid=True,
            dry_run=False,
        )
    return imported.result.inserted + imported.result.known


async def _start_campaign(pool: Pool, bot: models.Bot) -> tuple[models.Campaign, models.Run]:
    name = "demo-" + datetime.now().strftime("%Y%m%d-%H%M%S")
    campaign = await campaigns.create(
        pool, name=name, bot=bot.name, text=DEMO_TEXT, parse_mode=models.ParseMode.HTML
    )
    begun = await runs.start(pool, name)
    assert not isinstance(begun, datetime)  # the demo campaign has no schedule
    return campaign, begun.run


def _print_next_steps(campaign: str) -> None:
    steps = [
        f"campaign status {campaign}",
        "audience stats",
        "sandbox --audience-out audience.csv      # in another terminal",
        "bot add <token it prints> --name mine --api-url http://127.0.0.1:8081",
        "audience import audience.csv --bot mine",
        "campaign create hello --bot mine --text 'Hello!'",
        "run hello",
        "db stop                                  # the embedded PostgreSQL runs until then",
    ]
    program = command_name()
    for step in steps:
        console.print(f"  {program} {step}", markup=False, highlight=False)
