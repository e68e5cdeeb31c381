"""`bulletin db`: the embedded PostgreSQL's lifecycle (a configured server is yours to run)."""

from __future__ import annotations

import typer

from bulletin.app import database
from bulletin.cli.context import Options
from bulletin.cli.output import console

app = typer.Typer(help="Start or stop the embedded PostgreSQL.", no_args_is_help=True)


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
