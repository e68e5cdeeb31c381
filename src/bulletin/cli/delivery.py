"""`bulletin serve` and `bulletin run`: the worker, in the background or in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bulletin import config, errors, models
from bulletin.app import runs
from bulletin.cli import report
from bulletin.cli.again import AgainOption, YesOption
from bulletin.cli.again import confirm as confirm_again
from bulletin.cli.context import Options, database, freeze_startup_heap, run, stop_on_signals
from bulletin.cli.http import HttpOption, NoHttpOption, listen_address, serving_http
from bulletin.cli.output import console, error_console
from bulletin.db import runs as run_rows
from bulletin.db.pool import Pool
from bulletin.db.pool import connection as pooled
from bulletin.engine.supervisor import GAVE_UP_EXIT_CODE

if TYPE_CHECKING:
    from bulletin.engine.scheduler import Scheduler
    from bulletin.engine.worker import Worker

POLL_S = 0.5


def make_worker(
    pool: Pool,
    settings: config.Settings,
    *,
    only_bots: list[int] | None = None,
    on_runs_finished: Callable[[list[int]], None] | None = None,
    outbox_only: bool = False,
) -> Worker:
    """Compose a worker from the database store and aiogram clients."""
    # aiogram takes seconds to import: only commands that send pay for it.
    from bulletin.db.deliveries import DeliveryStore
    from bulletin.db.media import MediaFiles
    from bulletin.db.notifications import PostgresNotices
    from bulletin.engine.ports import Sender
    from bulletin.engine.uploads import Uploads
    from bulletin.engine.worker import Worker
    from bulletin.telegram.client import client_for

    media_files = MediaFiles(pool)

    def sender_for(bot: models.Bot) -> Sender:
        # A local media file is uploaded once per bot; its file_id serves every other chat.
        return Uploads(client_for(bot, settings), bot.id, media_files)

    return Worker(
        DeliveryStore(pool),
        sender_for,
        settings.worker,
        only_bots=only_bots,
        on_runs_finished=on_runs_finished,
        notices=PostgresNotices(pool),
        outbox_only=outbox_only,
    )


def make_scheduler(pool: Pool) -> Scheduler:
    """The scheduler: only the process holding its advisory lock starts runs."""
    from bulletin.db.schedules import ScheduleStore
    from bulletin.engine.scheduler import Scheduler

    return Scheduler(ScheduleStore(pool))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("run")(run_campaign)
    app.command("worker", hidden=True)(worker)


def _with_resend(settings: config.Settings, resend_uncertain: bool) -> config.Settings:
    if not resend_uncertain:
        return settings
    worker_settings = settings.worker.model_copy(update={"resend_uncertain": True})
    return settings.model_copy(update={"worker": worker_settings})


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
    settings = _with_resend(options.settings(), resend_uncertain)
    webhook = Webhook(webhook_base, webhook_host, webhook_port) if webhook_base else None
    listen = listen_address(settings, http, no_http)
    if workers > 0:
        _supervise(options, workers, resend_uncertain, webhook, listen)
        return
    run(_serve_in_process(settings, webhook, listen))


def worker(ctx: typer.Context, resend_uncertain: ResendOption = False) -> None:
    """One worker process, as started by `serve --workers N` (exit 3: restarting cannot help)."""
    settings = _with_resend(ctx.ensure_object(Options).settings(), resend_uncertain)
    try:
        run(_serve_in_process(settings))
    except (errors.NothingToDo, errors.SchemaTooNew, errors.SchemaMissing) as exc:
        error_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(GAVE_UP_EXIT_CODE) from None


@dataclass(frozen=True)
class Webhook:
    base_url: str
    host: str
    port: int


async def _serve_in_process(
    settings: config.Settings, webhook: Webhook | None = None, listen: str | None = None
) -> None:
    stop = asyncio.Event()
    stop_on_signals(stop)
    async with database(settings, max_size=20) as pool, serving_http(pool, settings, listen):
        serving = make_worker(pool, settings)
        freeze_startup_heap()  # after aiogram is imported: its models are most of the heap
        error_console.print(f"serving as {serving.worker_id}; Ctrl-C to stop", markup=False)
        # Every serve process offers to schedule; an advisory lock elects one leader.
        side_tasks = [asyncio.create_task(make_scheduler(pool).run(stop))]
        if webhook is not None:
            side_tasks.append(
                asyncio.create_task(_receive_by_webhook(pool, settings, stop, webhook))
            )
        try:
            await serving.run(stop)
        finally:
            stop.set()
            await asyncio.gather(*side_tasks)
    error_console.print("stopped", markup=False)


async def _receive_by_webhook(
    pool: Pool, settings: config.Settings, stop: asyncio.Event, webhook: Webhook
) -> None:
    from bulletin.cli.listen import receive_updates

    await receive_updates(
        pool, settings, stop, webhook_base=webhook.base_url, host=webhook.host, port=webhook.port
    )


def _supervise(
    options: Options,
    workers: int,
    resend_uncertain: bool,
    webhook: Webhook | None,
    listen: str | None = None,
) -> None:
    from bulletin.engine.supervisor import Supervisor

    command = [sys.executable, "-m", "bulletin", *["-v"] * options.verbose, "worker"]
    if resend_uncertain:
        command.append("--resend-uncertain")
    supervisor = Supervisor(command, options.child_environment(os.environ), workers)

    async def go() -> list[str]:
        stop = asyncio.Event()
        stop_on_signals(stop)
        error_console.print(f"supervising {workers} worker processes; Ctrl-C to stop")
        if webhook is None and listen is None:
            return await supervisor.run(stop)
        # Updates and API requests arrive at one address: the supervisor serves them.
        settings = options.settings()
        async with database(settings) as pool, serving_http(pool, settings, listen):
            if webhook is None:
                return await supervisor.run(stop)
            receiving = asyncio.create_task(_receive_by_webhook(pool, settings, stop, webhook))
            try:
                return await supervisor.run(stop)
            finally:
                stop.set()
                await receiving

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
    worker = make_worker(pool, settings, only_bots=bot_ids)
    freeze_startup_heap()  # after aiogram is imported: its models are most of the heap
    working = asyncio.create_task(worker.run(stop))
    gave_up: errors.NothingToDo | None = None
    try:
        current = await _watch(pool, started, stop, working, show_progress)
    finally:
        stop.set()
        try:
            await working
        except errors.NothingToDo as exc:
            gave_up = exc
    async with pool.acquire() as connection:
        current = await run_rows.get(connection, started.id)
        counts = await run_rows.counts(connection, started.id)
        failures = await run_rows.failures(connection, started.id)
    report.print_outcome(current, counts, failures)
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
            try:
                async with pooled(pool) as connection:
                    current = await run_rows.get(connection, started.id)
                    counts = await run_rows.counts(connection, started.id)
            except errors.DatabaseUnavailable:
                progress.update(task, description=f"{started.label} (database unreachable)")
                await asyncio.sleep(POLL_S)
                continue
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
