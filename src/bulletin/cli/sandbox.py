"""`bulletin sandbox`: the local Bot API server, for trying bulletin without Telegram."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer

from bulletin.cli.output import command_name, console
from bulletin.sandbox import Faults, World, run_forever
from bulletin.sandbox.world import standalone_first_bot_id


def register(app: typer.Typer) -> None:
    app.command("sandbox")(sandbox)


def sandbox(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one)")] = 8081,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    users: Annotated[int, typer.Option(min=0, help="Private chats that started the bot")] = 1000,
    groups: Annotated[int, typer.Option(min=0, help="Supergroups the bot was added to")] = 0,
    blocked: Annotated[
        float, typer.Option(min=0, max=1, help="Share of users who blocked it")
    ] = 0.03,
    gone: Annotated[
        float, typer.Option(min=0, max=1, help="Share of chats that no longer exist")
    ] = 0.01,
    deactivated: Annotated[
        float, typer.Option(min=0, max=1, help="Share of deleted accounts")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed for the audience and the faults")] = 0,
    bots: Annotated[int, typer.Option(min=1, help="Bots to create")] = 1,
    token: Annotated[
        list[str] | None, typer.Option(help="Use this token for a bot (repeatable)")
    ] = None,
    rate: Annotated[float, typer.Option(help="Each bot's limit in msgs/s")] = 30.0,
    unlimited: Annotated[bool, typer.Option(help="No rate limits (throughput benchmarks)")] = False,
    error_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of 5xx answers")] = 0.0,
    slow_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of slow answers")] = 0.0,
    slow_s: Annotated[float, typer.Option(min=0, help="How slow a slow answer is")] = 0.0,
    audience_out: Annotated[
        Path | None, typer.Option(help="Write the generated audience as CSV here")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line when ready")] = False,
) -> None:
    """Run a local Bot API server with a generated audience until Ctrl-C."""
    world = World.generate(
        users,
        groups,
        blocked=blocked,
        gone=gone,
        deactivated=deactivated,
        seed=seed,
        first_bot_id=standalone_first_bot_id(),
    )
    tokens = list(token or [])
    created = [world.add_bot(rate_per_s=rate, token=t) for t in tokens]
    created += [world.add_bot(rate_per_s=rate) for _ in range(max(0, bots - len(tokens)))]
    if audience_out is not None:
        world.write_audience_csv(audience_out)
    faults = Faults(error_rate=error_rate, slow_rate=slow_rate, slow_s=slow_s, seed=seed)

    def ready(url: str) -> None:
        if as_json:
            print(
                json.dumps(
                    {
                        "url": url,
                        "tokens": [bot.token for bot in created],
                        "audience": str(audience_out) if audience_out else None,
                    }
                ),
                flush=True,
            )
            return
        console.print(f"sandbox Bot API at [bold]{url}[/]")
        for bot in created:
            console.print(f"  bot @{bot.username} token {bot.token}")
        if audience_out is not None:
            console.print(f"  audience of {len(world.audience_rows()):,} chats in {audience_out}")
        console.print(f"  ledger: {url}/sandbox/ledger   stats: {url}/sandbox/stats")
        console.print(
            f"try: {command_name()} bot add {created[0].token} --api-url {url}", markup=False
        )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_forever(
                world, host=host, port=port, faults=faults, unlimited=unlimited, ready=ready
            )
        )
