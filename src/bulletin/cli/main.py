"""The `bulletin` command: global options, `init`, and the one place errors become exit codes."""

from __future__ import annotations

import enum
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from bulletin import __version__, errors
from bulletin.app import database, failures
from bulletin.cli import (
    audience,
    bots,
    campaign_files,
    campaigns,
    db,
    delivery,
    demo,
    listen,
    preflight,
    reports,
    sandbox,
    stats,
    tokens,
)
from bulletin.cli.context import Options, configure_logging, run
from bulletin.cli.output import console, error_console


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


app = typer.Typer(
    name="bulletin",
    help="Broadcast to the people who opted in to your Telegram bots.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(bots.app, name="bot")
app.add_typer(audience.app, name="audience")
campaign_files.register(campaigns.app)
preflight.register(campaigns.app)
reports.register(campaigns.app)
app.add_typer(campaigns.app, name="campaign")
app.add_typer(db.app, name="db")
delivery.register(app)
sandbox.register(app)
listen.register(app)
demo.register(app)
stats.register(app)
app.add_typer(tokens.app, name="token")


def _version(value: bool) -> None:
    if value:
        print(f"bulletin {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    config_path: Annotated[
        Path | None, typer.Option("--config", help="TOML config file [env: BULLETIN_CONFIG]")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Where the embedded PostgreSQL lives [env: BULLETIN_DATA_DIR]"
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="PostgreSQL URL [env: BULLETIN_DATABASE_URL]"),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, show_default=False, help="More logs")
    ] = 0,
    log_format: Annotated[
        LogFormat | None, typer.Option("--log-format", help="text or json [config: log.format]")
    ] = None,
    log_file: Annotated[
        Path | None,
        typer.Option("--log-file", help="Rotating log file instead of stderr [config: log.file]"),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version")
    ] = False,
) -> None:
    """Broadcast to the people who opted in to your Telegram bots."""
    _verbosity[0] = verbose
    options = Options(
        config_path, data_dir, database_url, verbose, log_format and log_format.value, log_file
    )
    configure_logging(options.settings(), verbose)
    ctx.obj = options


@app.command()
def init(ctx: typer.Context) -> None:
    """Create or migrate bulletin's tables (starts the embedded PostgreSQL if no URL is set)."""
    settings = ctx.ensure_object(Options).settings()

    done = run(database.initialise(settings))
    names = ", ".join(done.applied) or "none needed"
    console.print(f"database {done.where}: schema at version {done.version} (applied: {names})")


# How many -v the command line gave: main() decides with it whether to show a traceback.
_verbosity = [0]


def main() -> None:
    """Console entry point: every failure is one line on stderr and a non-zero exit."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the one place any failure becomes an exit code
        message, expected = failures.describe(exc)
        if _verbosity[0] and not isinstance(exc, errors.BulletinError):
            traceback.print_exception(exc)
        elif not expected:
            message += "; rerun with -v for the traceback"
        error_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
