"""`bulletin campaign`: create, list, start, pause, resume, cancel and inspect campaigns."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from bulletin import errors, models
from bulletin.app import campaigns, runs
from bulletin.app.database import database
from bulletin.campaign import lifecycle
from bulletin.cli import report
from bulletin.cli.again import AgainOption, YesOption
from bulletin.cli.again import confirm as confirm_again
from bulletin.cli.context import Options, run
from bulletin.cli.output import console, print_json, print_table

app = typer.Typer(help="Design campaigns and start their runs.", no_args_is_help=True)

MAX_TEXT_CHARS = 4096


def read_text(text: str | None, text_file: Path | None) -> str:
    """The message text from --text or --text-file, exactly one of them."""
    if (text is None) == (text_file is None):
        raise errors.InputError("give exactly one of --text or --text-file")
    if text_file is not None:
        try:
            text = text_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise errors.InputError(
                f"cannot read text file: {exc}", source=str(text_file)
            ) from None
    assert text is not None
    if not text.strip():
        raise errors.InputError("the message text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise errors.InputError(
            f"the message text has {len(text):,} characters; Telegram allows {MAX_TEXT_CHARS:,}"
        )
    return text


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A unique campaign name")],
    bot: Annotated[str, typer.Option(help="The bot that sends it")],
    text: Annotated[str | None, typer.Option(help="The message text")] = None,
    text_file: Annotated[
        Path | None, typer.Option(help="Read the message text from a file")
    ] = None,
    parse_mode: Annotated[models.ParseMode, typer.Option(help="How Telegram formats the text")] = (
        models.ParseMode.HTML
    ),
    paid_broadcast: Annotated[
        bool,
        typer.Option(help="Send with allow_paid_broadcast (up to 1000 msgs/s, billed in Stars)"),
    ] = False,
    resend_uncertain: Annotated[
        bool,
        typer.Option(help="Resend deliveries a crashed worker left unknown (risks duplicates)"),
    ] = False,
) -> None:
    """Create a draft campaign."""
    settings = ctx.ensure_object(Options).settings()
    body = read_text(text, text_file)

    async def go() -> models.Campaign:
        async with database(settings) as pool:
            return await campaigns.create(
                pool,
                name=name,
                bot=bot,
                text=body,
                parse_mode=parse_mode,
                paid_broadcast=paid_broadcast,
                resend_uncertain=resend_uncertain,
            )

    campaign = run(go())
    console.print(f"created campaign [bold]{campaign.name}[/] for bot {campaign.bot_name}")


@app.command("list")
def list_campaigns(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False
) -> None:
    """Campaigns with their latest run."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> list[tuple[models.Campaign, int | None, str | None]]:
        async with database(settings) as pool:
            return await campaigns.list_all(pool)

    listed = run(go())
    rows = [
        {
            "name": c.name,
            "bot": c.bot_name,
            "status": c.status.value,
            "paused_reason": c.paused_reason,
            "last_run": number,
            "last_run_status": run_status,
            "text": c.text,
        }
        for c, number, run_status in listed
    ]
    if as_json:
        print_json(rows)
        return
    shown = [{**r, "text": c.text[:40]} for r, (c, _, _) in zip(rows, listed, strict=True)]
    print_table("campaigns", list(rows[0]) if rows else ["name"], [list(r.values()) for r in shown])


@app.command("start")
def start(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name")],
    again: AgainOption = False,
    yes: YesOption = False,
) -> None:
    """Check the campaign, then start a run now (to the chats it has not reached yet), or its
    schedule if it has one."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> runs.Begun | datetime | None:
        async with database(settings) as pool:
            if again:
                await confirm_again(pool, name, yes=yes)
            try:
                return await runs.start(pool, name, again=again)
            except errors.NothingToSend as exc:
                console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
                return None

    started = run(go())
    if started is None:
        return
    if isinstance(started, datetime):
        console.print(
            f"scheduled {name}: first run at {started.astimezone():%Y-%m-%d %H:%M:%S %Z} "
            "(`bulletin serve` starts it)"
        )
        return
    console.print(
        f"{started.summary} pending (`bulletin serve` sends them)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@app.command("runs")
def list_runs(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """A campaign's runs, oldest first, with what each delivered."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> list[runs.RunSummary]:
        async with database(settings) as pool:
            return await runs.of_campaign(pool, name)

    rows = [
        {
            "run": summary.run.number,
            "started_at": summary.run.started_at,
            "finished_at": summary.run.finished_at,
            "audience": summary.run.audience,
            "sent": summary.sent,
            "failed": summary.failed,
            "uncertain": summary.uncertain,
            "pending": summary.pending,
            "status": lifecycle.describe(summary.run),
        }
        for summary in run(go())
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"{name} has no run yet (`bulletin campaign start {name}`)", markup=False)
        return
    print_table(f"runs of {name}", list(rows[0]), [list(row.values()) for row in rows])


@app.command("pause")
def pause(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Campaign name")]) -> None:
    """Pause a campaign: its runs stop sending and its schedule starts nothing until resumed."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> int:
        async with database(settings) as pool:
            return await campaigns.pause(pool, name)

    paused = run(go())
    console.print(f"paused {name} ({paused} run(s) stopped sending)")


@app.command("cancel")
def cancel(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Campaign name")]) -> None:
    """Cancel a campaign for good: pending deliveries are skipped and its schedule stops."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> tuple[int, int]:
        async with database(settings) as pool:
            return await campaigns.cancel(pool, name)

    ended, skipped = run(go())
    console.print(f"cancelled {name}: {ended} run(s) ended, {skipped:,} pending deliveries skipped")


@app.command("status")
def status(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name")],
    number: Annotated[
        int | None,
        typer.Option("--run", help="The run's number in `campaign runs` (default: the latest)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Where a run stands: sent, failed, blocked, gone, pending, pace."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> runs.Status:
        async with database(settings) as pool:
            return await runs.status(pool, name, number)

    found = run(go())
    counts, failures, variants, bot = found.counts, found.failures, found.variants, found.bot
    if as_json:
        values = runs.outcome(found.run, counts)
        values["bot"] = {"name": bot.name, "status": bot.status.value}
        values["failures"] = runs.failure_rows(failures)
        values["variants"] = variants
        print_json(values)
        return
    report.print_outcome(found.run, counts, failures)
    if len(variants) > 1:
        print_table("per variant", list(variants[0]), [list(row.values()) for row in variants])
    if bot.status is not models.BotStatus.ACTIVE:
        console.print(
            f"[bold red]bot {bot.name} is {bot.status.value}[/]: its deliveries wait until "
            "a valid token is added again (`bulletin bot add`)"
        )


@app.command("resume")
def resume(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Campaign name")]) -> None:
    """Resume a campaign paused by a content error, once the content is fixed."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> int:
        async with database(settings) as pool:
            return await campaigns.resume(pool, name)

    resumed = run(go())
    console.print(f"resumed {name} ({resumed} run(s) sending again)")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask (for scripts)")] = False,
) -> None:
    """Delete a finished or draft campaign with its runs and deliveries (not while a run is
    unfinished)."""
    settings = ctx.ensure_object(Options).settings()
    if not yes:
        if not sys.stdin.isatty():
            raise errors.InputError(f"deleting {name!r} needs a confirmation: pass --yes")
        typer.confirm(f"delete campaign {name!r} with its runs and deliveries?", abort=True)

    async def go() -> tuple[int, int]:
        async with database(settings) as pool:
            return await campaigns.delete(pool, name)

    deleted, deliveries = run(go())
    console.print(f"deleted campaign {name} ({deleted} run(s), {deliveries:,} deliveries)")
