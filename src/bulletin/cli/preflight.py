"""`bulletin campaign preview | check`: see the audience and the messages before anything is sent."""

from __future__ import annotations

from typing import Annotated

import typer

from bulletin import errors
from bulletin.app import preflight
from bulletin.app.database import database
from bulletin.cli.context import Options, run
from bulletin.cli.output import console, print_json, print_table


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)
    app.command("check")(check)


def preview(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name")],
    samples: Annotated[int, typer.Option(min=0, max=50, help="Rendered samples to show")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """The audience a run would have now, and a few messages rendered for real subscribers."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> preflight.Preview:
        async with database(settings) as pool:
            return await preflight.preview(pool, name, samples)

    shown = run(go())
    if as_json:
        print_json(shown.as_json(name))
        return
    console.print(f"campaign [bold]{name}[/]: a run now would reach {shown.audience:,} chat(s)")
    rows = [[item.variant, item.chat_id, item.message] for item in shown.samples]
    print_table("samples", ["variant", "chat", "message"], rows)


def check(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name")],
    test_chat: Annotated[
        int | None, typer.Option("--test-chat", help="Send every variant to this chat first")
    ] = None,
) -> None:
    """The pre-flight check: render, parse, lengths, media; optionally a test send."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> tuple[int, list[str]]:
        async with database(settings) as pool:
            return await preflight.check(pool, settings, name, test_chat)

    audience, problems = run(go())
    if problems:
        raise errors.ContentError(f"check failed: {'; '.join(problems)}")
    sent = f"; every variant sent to chat {test_chat}" if test_chat is not None else ""
    console.print(f"check passed for {name}: {audience:,} subscriber(s) in the segment{sent}")
