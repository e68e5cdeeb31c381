"""The `bulletin` command: global options, `init`, and the one place errors become exit codes."""

from __future__ import annotations

import enum
import functools
import importlib
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
import typer.core
import typer.main
from typer import _click as click  # Typer's own copy of click: its groups are typed with it

from bulletin import __version__, errors
from bulletin.cli.context import Options, configure_logging, run
from bulletin.cli.output import console, error_console


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


@dataclass(frozen=True)
class Lazy:
    """A command defined in another module, imported only when that command runs."""

    module: str  # bulletin.cli.X: its `app` (a group) or its `register(app)` (commands)
    summary: str  # what `bulletin --help` lists (tests/cli/test_startup.py checks it)
    hidden: bool = False


# Every command, in the order `bulletin --help` lists them (`init` is defined below, the rest
# where LAZY says). A command imports only its own module: `bulletin campaign list` never
# imports the sandbox, the web server or aiogram.
LAZY = {
    "serve": Lazy(
        "bulletin.cli.delivery",
        "Deliver every pending run until SIGINT/SIGTERM (in-flight sends drain, then exit 0).",
    ),
    "run": Lazy(
        "bulletin.cli.delivery",
        "Deliver a campaign in the foreground: its unfinished run, or a new one to the chats it\n"
        "has not reached yet.",
    ),
    "worker": Lazy(
        "bulletin.cli.delivery",
        "One worker process, as started by `serve --workers N` (exit 3: restarting cannot help).",
        hidden=True,
    ),
    "sandbox": Lazy(
        "bulletin.cli.sandbox", "Run a local Bot API server with a generated audience until Ctrl-C."
    ),
    "listen": Lazy(
        "bulletin.cli.listen",
        "Record /start, /stop, blocks, group adds and removals until SIGINT/SIGTERM.",
    ),
    "demo": Lazy(
        "bulletin.cli.demo",
        "Start the embedded PostgreSQL and the sandbox, then run a campaign to a generated "
        "audience.",
    ),
    "stats": Lazy(
        "bulletin.cli.stats",
        "Daily sent, failed, blocked, gone, skipped, uncertain, 429s, new subscribers, opt-outs.",
    ),
    "init": Lazy(
        "bulletin.cli.main",
        "Create or migrate bulletin's tables (starts the embedded PostgreSQL if no URL is set).",
    ),
    "bot": Lazy("bulletin.cli.bots", "Register and manage bots."),
    "audience": Lazy(
        "bulletin.cli.audience", "Import and inspect the people and chats that opted in."
    ),
    "campaign": Lazy("bulletin.cli.campaigns", "Design campaigns and start their runs."),
    "db": Lazy(
        "bulletin.cli.db",
        "The embedded PostgreSQL; pruning old runs' deliveries; resetting a dev database.",
    ),
    "token": Lazy("bulletin.cli.tokens", "Tokens for the HTTP API of `bulletin serve`."),
}


@functools.cache  # once: registering twice would list every command twice
def _campaign_group() -> typer.Typer:
    """`bulletin campaign`: its commands live in four modules."""
    from bulletin.cli import campaign_files, campaigns, preflight, reports

    campaign_files.register(campaigns.app)
    preflight.register(campaigns.app)
    reports.register(campaigns.app)
    return campaigns.app


def load(name: str) -> click.Command:
    """The click command `name`, its module imported now."""
    module = importlib.import_module(LAZY[name].module)
    if name == "campaign":
        group = typer.main.get_group(_campaign_group())
    elif hasattr(module, "register"):  # top-level commands registered on an app
        holder = typer.Typer()
        module.register(holder)
        return typer.main.get_group(holder).commands[name]
    else:
        group = typer.main.get_group(module.app)
    group.name = name
    return group


class LazyGroup(typer.core.TyperGroup):
    """The root group: loads a command's module when it is asked for that command."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(LAZY)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY:
            self.commands[cmd_name] = load(cmd_name)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The list of commands from their summaries: help imports none of their modules.
        loaded = self.commands
        self.commands = {
            name: loaded.get(name)
            or typer.core.TyperCommand(name, help=lazy.summary, hidden=lazy.hidden)
            for name, lazy in LAZY.items()
        }
        try:
            super().format_help(ctx, formatter)
        finally:
            self.commands = loaded

    def load_all(self) -> None:
        """Every command loaded, for the tests that walk them all."""
        for name in LAZY:
            self.get_command(click.Context(self), name)


app = typer.Typer(
    name="bulletin",
    cls=LazyGroup,
    help="Broadcast to the people who opted in to your Telegram bots.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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
    from bulletin.app import database

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
        from bulletin.app import failures

        message, expected = failures.describe(exc)
        if _verbosity[0] and not isinstance(exc, errors.BulletinError):
            traceback.print_exception(exc)
        elif not expected:
            message += "; rerun with -v for the traceback"
        error_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
