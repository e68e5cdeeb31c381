"""`bulletin db`: the embedded PostgreSQL's lifecycle (a configured server is yours to run),
pruning old history, and a clean slate for a development database."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bulletin import errors
from bulletin.app import database, history
from bulletin.cli.context import Options, run
from bulletin.cli.output import console

app = typer.Typer(
    help="The embedded PostgreSQL; pruning old runs' deliveries; resetting a dev database.",
    no_args_is_help=True,
)


@app.command("start")
def start(ctx: typer.Context) -> None:
    """Start the embedded PostgreSQL in the data dir (commands start it by themselves too)."""
    settings = ctx.ensure_object(Options).settings()
    url = database.start_embedded(settings)
    console.print(f"embedded PostgreSQL running in {settings.embedded_pgdata}", markup=False)
    console.print(f"connect with: psql '{url}'", markup=False)


@app.command("stop")
def stop(ctx: typer.Context) -> None:
    """Stop the embedded PostgreSQL; it stays running between commands until you do."""
    settings = ctx.ensure_object(Options).settings()
    if database.stop_embedded(settings):
        console.print(f"stopped the embedded PostgreSQL in {settings.embedded_pgdata}")
    else:
        console.print("the embedded PostgreSQL was not running")


@app.command("prune")
def prune(
    ctx: typer.Context,
    finished_before: Annotated[
        str,
        typer.Option(
            "--finished-before",
            help="Prune runs that finished before this ISO 8601 date or date-time (UTC if "
            "no offset)",
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask (for scripts)")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing")
    ] = False,
) -> None:
    """Delete the deliveries and delivery events of runs finished before a date, in small
    batches. Runs stay, with their tallies (`campaign status --run N`); daily stats,
    subscribers and consent stay; a one-shot campaign still never re-sends to a chat it
    reached. Unfinished runs are never touched."""
    settings = ctx.ensure_object(Options).settings()
    moment = history.parse_moment(finished_before, "--finished-before")
    if not dry_run and not yes:
        if not sys.stdin.isatty():
            raise errors.InputError("pruning needs a confirmation: pass --yes (or --dry-run)")
        typer.confirm(
            f"delete the deliveries of every run finished before {moment.isoformat()}?",
            abort=True,
        )

    def shown(item: history.PrunedRun) -> None:
        console.print(
            f"pruned {item.label}: {item.deliveries:,} deliveries, {item.events:,} events",
            markup=False,
        )

    async def go() -> history.Prune:
        async with database.database(settings) as pool:
            return await history.prune(pool, moment, dry_run=dry_run, progress=shown)

    done = run(go())
    when = moment.isoformat()
    for label in done.unsettled:
        console.print(f"kept {label}: cancelled, its last sends not settled yet", markup=False)
    if dry_run:
        for item in done.runs:
            console.print(
                f"would prune {item.label}: {item.deliveries:,} deliveries, {item.events:,} events",
                markup=False,
            )
        console.print(
            f"dry run: {len(done.runs)} run(s) finished before {when} would lose "
            f"{done.deliveries:,} deliveries and {done.events:,} events; nothing deleted"
        )
        return
    console.print(
        f"pruned {len(done.runs)} run(s) finished before {when}: {done.deliveries:,} "
        f"deliveries and {done.events:,} events deleted; tallies and daily stats kept, "
        f"{done.reached:,} chat(s) remembered as reached"
    )


@app.command("reset")
def reset(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Yes, erase everything in it")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Reset even while a serve holds bot leases")
    ] = False,
) -> None:
    """Erase a development database: drop bulletin's schema, apply every migration again."""
    settings = ctx.ensure_object(Options).settings()
    if not yes:
        raise errors.InputError("db reset erases every bot, subscriber and run: pass --yes")
    done = run(history.reset(settings, force=force))
    console.print(
        f"reset {done.where}: every table dropped, {len(done.applied)} migrations applied",
        markup=False,
    )
