"""`bulletin stats`: the daily rollups, a table per day and totals, or JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from bulletin.app import stats
from bulletin.app.database import database
from bulletin.cli.context import Options, run
from bulletin.cli.output import print_json, print_table


def register(app: typer.Typer) -> None:
    app.command("stats")(show)


def show(
    ctx: typer.Context,
    bot: Annotated[str | None, typer.Option("--bot", help="One bot (default: every bot)")] = None,
    campaign: Annotated[
        str | None,
        typer.Option("--campaign", help="One campaign, per variant (with --bot: that bot's share)"),
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Today and the days before it (UTC)")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Daily sent, failed, blocked, gone, skipped, uncertain, 429s, new subscribers, opt-outs."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> stats.DailyStats:
        async with database(settings) as pool:
            return await stats.daily(pool, bot=bot, campaign=campaign, days=days)

    daily = run(go())
    if as_json:
        print_json(daily.as_json())
        return
    columns = ["day", daily.by, *daily.counts]
    rows = [[row["day"].isoformat(), row[daily.by], *(row[n] for n in daily.counts)]
            for row in daily.rows]  # fmt: skip
    totals = daily.totals
    rows.append(["total", "", *(totals[name] for name in daily.counts)])
    print_table(f"last {days} days (UTC)", columns, rows)
