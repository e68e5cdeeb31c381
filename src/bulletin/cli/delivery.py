"""`bulletin serve` and `bulletin run`: the worker, in the background or in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bulletin import config, errors, models
from bulletin.app import runs
from bulletin.app import serve as serving
from bulletin.app.database import Pool, database
from bulletin.cli import report
from bulletin.cli.again import AgainOption, YesOption
from bulletin.cli.again import confirm as confirm_again
from bulletin.cli.context import Options, run, stop_on_signals
from bulletin.cli.http import HttpOption, NoHttpOption, listen_address, serving_http
from bulletin.cli.output import announce, console, error_console

POLL_S = 0.5


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("run")(run_campaign)
    app.command("worker", hidden=True)(worker)


ResendOption = Annotated[
    bool,
    typer.Option("--resend-uncertain", help="Resend deliveries a crashed worker left unknown"),
]


def serve(
    ctx: typer.Context,
    workers: Annotated[
        int,
        typer.Option(
            min=0, max=64, help="Worker processes to supervise (0: one worker in this process)"
        ),
    ] = 0,
    resend_uncertain: ResendOption = False,
    webhook_base: Annotated[
        str | None,
        typer.Option(
            help="Also receive /start, /stop and chat changes by webhook at this public base URL"
        ),
    ] = None,
    webhook_host: Annotated[str, typer.Option(help="Address the webhook server binds")] = (
        "127.0.0.1"
    ),
    webhook_port: Annotated[int, typer.Option(help="Port the webhook server binds")] = 8443,
    http: HttpOption = None,
    no_http: NoHttpOption = False,
) -> None:
    """Deliver every pending run until SIGINT/SIGTERM (in-flight sends drain, then exit 0)."""
    options = ctx.ensure_object(Options)
    settings = serving.with_resend(options.settings(), resend_uncertain)
    webhook = serving.Webhook(webhook_base, webhook_host, webhook_port) if webhook_base else None
    listen = listen_address(settings, http, no_http)
    if workers > 0:
        _supervise(options, workers, resend_uncertain, webhook, listen)
        return
    _serve_in_process(settings, webhook, listen)


def worker(ctx: typer.Context, resend_uncertain: ResendOption = False) -> None:
    """One worker process, as started by `serve --workers N` (exit 3: restarting cannot help)."""
    settings = serving.with_resend(ctx.ensure_object(Options).settings(), resend_uncertain)
    try:
        _serve_in_process(settings)
    except (errors.NothingToDo, errors.SchemaTooNew, errors.SchemaMissing) as exc:
        error_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(serving.GAVE_UP_EXIT_CODE) from None


def _serve_in_process(
    settings: config.Settings, webhook: serving.Webhook | None = None, listen: str | None = None
) -> None:
    async def go() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        await serving.serve_in_process(
            settings, stop, announce, webhook, _http_beside(settings, listen)
        )

    run(go())
    error_console.print("stopped", markup=False)


def _http_beside(settings: config.Settings, listen: str | None) -> serving.Beside | None:
    """The API, served beside the engine while it runs (none with --no-http)."""
    if listen is None:
        return None
    return lambda pool: serving_http(pool, settings, listen)


def _supervise(
    options: Options,
    workers: int,
    resend_uncertain: bool,
    webhook: serving.Webhook | None,
    listen: str | None = None,
) -> None:
    command = [sys.executable, "-m", "bulletin", *["-v"] * options.verbose, "worker"]
    if resend_uncertain:
        command.append("--resend-uncertain")
    environment = options.child_environment(os.environ)

    async def go() -> list[str]:
        stop = asyncio.Event()
        stop_on_signals(stop)
        settings = options.settings()
        return await serving.supervise(
            settings, command, environment, workers, stop, announce, webhook,
            _http_beside(settings, listen),
        )  # fmt: skip

    gave_up = run(go())
    if gave_up:
        raise errors.NothingToDo("; ".join(dict.fromkeys(gave_up)))
    error_console.print("stopped", markup=False)


def run_campaign(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name")],
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar (cron jobs, logs)")
    ] = False,
    again: AgainOption = False,
    yes: YesOption = False,
) -> None:
    """Deliver a campaign in the foreground: its unfinished run, or a new one to the chats it
    has not reached yet."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> models.Run | None:
        async with database(settings, max_size=20) as pool:
            if again:
                await confirm_again(pool, name, yes=yes)
            try:
                begun = await runs.run_or_continue(pool, name, again=again)
            except errors.NothingToSend as exc:
                error_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
                return None
            error_console.print(begun.summary, markup=False, highlight=False, soft_wrap=True)
            bot_ids = await runs.bots_of(pool, begun.run)
            return await deliver_with_progress(
                pool, settings, begun.run, bot_ids, show_progress=not quiet
            )

    finished = run(go())
    if finished is not None and finished.status is not models.RunStatus.DONE:
        raise typer.Exit(1)


async def deliver_with_progress(
    pool: Pool,
    settings: config.Settings,
    started: models.Run,
    bot_ids: list[int],
    *,
    show_progress: bool = True,
) -> models.Run:
    """Deliver one run in this process, showing progress; print and return its outcome."""
    stop = asyncio.Event()
    stop_on_signals(stop)

    async def watch(working: asyncio.Task[None]) -> None:
        await _watch(pool, started, stop, working, show_progress)

    delivered = await serving.deliver(pool, settings, started, bot_ids, stop, watch)
    current, counts, gave_up = delivered.run, delivered.counts, delivered.gave_up
    report.print_outcome(current, counts, delivered.failures)
    if gave_up is not None:
        raise gave_up
    if current.status is models.RunStatus.PAUSED:
        error_console.print(f"{current.label} paused: {current.paused_reason}", markup=False)
    elif current.status is models.RunStatus.RUNNING:
        error_console.print(
            f"stopped {current.label} with {counts.pending + counts.sending:,} deliveries "
            f"pending; `bulletin run {current.campaign_name}` or `bulletin serve` finishes them",
            markup=False,
        )
    return current


async def _watch(
    pool: Pool,
    started: models.Run,
    stop: asyncio.Event,
    working: asyncio.Task[None],
    show_progress: bool,
) -> models.Run:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sent {task.fields[sent]:,} failed {task.fields[failed]:,}"),
        TextColumn("{task.fields[rate]:.1f} msgs/s"),
        TimeRemainingColumn(),
    )
    current = started
    # A few refreshes a second: the bar's thread competes with sending for the GIL.
    with Progress(
        *columns,
        console=console,
        transient=False,
        refresh_per_second=4,
        disable=not show_progress,
    ) as progress:
        task = progress.add_task(
            started.label, total=max(started.audience, 1), sent=0, failed=0, rate=0.0
        )
        while not stop.is_set() and not working.done():
            now = await runs.progress(pool, started.id)
            if now is None:
                progress.update(task, description=f"{started.label} (database unreachable)")
                await asyncio.sleep(POLL_S)
                continue
            current, counts = now
            progress.update(task, description=started.label)
            progress.update(
                task,
                completed=counts.finished,
                sent=counts.sent,
                failed=counts.failed,
                rate=counts.sent_per_s,
            )
            if current.status is not models.RunStatus.RUNNING:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_S):
                    await stop.wait()
    return current
