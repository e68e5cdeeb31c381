"""The assembly of `serve`, `run` and `listen`: workers, the scheduler, listeners, the webhook."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bulletin import config, errors, models
from bulletin.app import preflight, process_metrics, run_log
from bulletin.app.database import database
from bulletin.db import bots as bot_rows
from bulletin.db import runs as run_rows
from bulletin.db.pool import Pool
from bulletin.engine.supervisor import GAVE_UP_EXIT_CODE as GAVE_UP_EXIT_CODE  # for `worker`
from bulletin.engine.supervisor import Supervisor

if TYPE_CHECKING:
    from bulletin.engine.ports import Observer
    from bulletin.engine.scheduler import Scheduler
    from bulletin.engine.worker import Worker

DEFAULT_WEBHOOK_PORT = 8443

# Where the assembly tells the operator what it is doing: a line of plain text.
Announce = Callable[[str], None]


def make_worker(
    pool: Pool,
    settings: config.Settings,
    *,
    only_bots: list[int] | None = None,
    on_runs_finished: Callable[[list[int]], None] | None = None,
    outbox_only: bool = False,
    observer: Observer | None = None,
) -> Worker:
    """Compose a worker from the database store and aiogram clients; it reports to this
    process's metrics unless given another observer."""
    from bulletin.db.deliveries import DeliveryStore
    from bulletin.db.media import MediaFiles
    from bulletin.db.notifications import PostgresNotices
    from bulletin.engine.ports import Sender
    from bulletin.engine.uploads import Uploads
    from bulletin.engine.worker import Worker

    media_files = MediaFiles(pool)
    refrozen = False

    def sender_for(bot: models.Bot) -> Sender:
        nonlocal refrozen
        # aiogram takes seconds and most of a worker's memory to import: a worker loads it
        # when it leases its first bot, so one that has nothing to send stays small.
        from bulletin.telegram.client import client_for

        client = client_for(bot, settings)
        if not refrozen and gc.get_freeze_count():
            # A process that froze its startup heap: aiogram's models, now imported, are
            # most of it.
            freeze_startup_heap()
            refrozen = True
        # A local media file is uploaded once per bot; its file_id serves every other chat.
        return Uploads(client, bot.id, media_files)

    return Worker(
        DeliveryStore(pool),
        sender_for,
        settings.worker,
        only_bots=only_bots,
        on_runs_finished=on_runs_finished,
        notices=PostgresNotices(pool),
        outbox_only=outbox_only,
        observer=observer or process_metrics.observer(),
    )


def make_scheduler(pool: Pool) -> Scheduler:
    """The scheduler: only the process holding its advisory lock starts runs."""
    from bulletin.db.schedules import ScheduleStore
    from bulletin.engine.scheduler import Scheduler

    return Scheduler(ScheduleStore(pool, preflight.preflight))


def freeze_startup_heap() -> None:
    """Before a long sending loop: keep what startup allocated out of the collector's scans.

    aiogram's type models make a large heap that lives as long as the process; scanning
    it on every full collection costs the sending loop a steady share of its CPU.
    """
    gc.collect()
    gc.freeze()


def with_resend(settings: config.Settings, resend_uncertain: bool) -> config.Settings:
    """The settings, with uncertain deliveries resent when the operator asked for it."""
    if not resend_uncertain:
        return settings
    worker_settings = settings.worker.model_copy(update={"resend_uncertain": True})
    return settings.model_copy(update={"worker": worker_settings})


@dataclass(frozen=True)
class Webhook:
    base_url: str
    host: str
    port: int


async def serve_in_process(
    settings: config.Settings,
    stop: asyncio.Event,
    announce: Announce,
    webhook: Webhook | None = None,
    beside: Beside | None = None,
) -> None:
    """One worker, the scheduler and (with a webhook) the listeners, until stop; inside
    `beside(pool)` (the HTTP server) when given."""
    async with database(settings, max_size=20) as pool, _beside(beside, pool):
        serving = make_worker(pool, settings)
        freeze_startup_heap()  # and again once the first bot's client has imported aiogram
        announce(f"serving as {serving.worker_id}; Ctrl-C to stop")
        # Every serve process offers to schedule; an advisory lock elects one leader.
        side_tasks = [asyncio.create_task(make_scheduler(pool).run(stop))]
        # Each process offers to log run changes too; each change is logged by one of them.
        side_tasks.append(asyncio.create_task(run_log.follow(pool, stop)))
        if webhook is not None:
            side_tasks.append(
                asyncio.create_task(_by_webhook(pool, settings, stop, announce, webhook))
            )
        try:
            await serving.run(stop)
        finally:
            stop.set()
            await asyncio.gather(*side_tasks)


async def supervise(
    settings: config.Settings,
    command: Sequence[str],
    environment: Mapping[str, str],
    workers: int,
    stop: asyncio.Event,
    announce: Announce,
    webhook: Webhook | None = None,
    beside: Beside | None = None,
) -> list[str]:
    """Keep `workers` worker processes alive until stop; why any of them gave up."""
    # Every process counts into one directory, so one /metrics covers them all.
    with process_metrics.shared_across_processes() as metrics_environment:
        supervisor = Supervisor(
            list(command),
            {**environment, **metrics_environment},
            workers,
            on_exit=process_metrics.process_exited,
        )
        announce(f"supervising {workers} worker processes; Ctrl-C to stop")
        return await _supervised(supervisor, settings, stop, announce, webhook, beside)


async def _supervised(
    supervisor: Supervisor,
    settings: config.Settings,
    stop: asyncio.Event,
    announce: Announce,
    webhook: Webhook | None,
    beside: Beside | None,
) -> list[str]:
    if webhook is None and beside is None:
        return await supervisor.run(stop)
    # Updates and API requests arrive at one address: the supervisor serves them, workers send.
    async with database(settings) as pool, _beside(beside, pool):
        if webhook is None:
            return await supervisor.run(stop)
        receiving = asyncio.create_task(_by_webhook(pool, settings, stop, announce, webhook))
        try:
            return await supervisor.run(stop)
        finally:
            stop.set()
            await receiving


# What runs beside the engine for as long as it serves, given the pool: the HTTP server,
# which lives in web/, above this layer, so it is handed in by the command that serves.
Beside = Callable[[Pool], contextlib.AbstractAsyncContextManager[None]]


def _beside(beside: Beside | None, pool: Pool) -> contextlib.AbstractAsyncContextManager[None]:
    return beside(pool) if beside is not None else contextlib.nullcontext()


async def _by_webhook(
    pool: Pool, settings: config.Settings, stop: asyncio.Event, announce: Announce, hook: Webhook
) -> None:
    await receive_updates(
        pool, settings, stop, announce, webhook_base=hook.base_url, host=hook.host, port=hook.port
    )


@dataclass(frozen=True, slots=True)
class Delivered:
    """How a run delivered in this process ended."""

    run: models.Run
    counts: models.RunCounts
    failures: list[tuple[str, str | None, int]]
    gave_up: errors.NothingToDo | None  # the worker found nothing it could send through


async def deliver(
    pool: Pool,
    settings: config.Settings,
    started: models.Run,
    bot_ids: list[int],
    stop: asyncio.Event,
    watch: Callable[[asyncio.Task[None]], Awaitable[object]],
) -> Delivered:
    """Deliver one run in this process while `watch` follows it; its outcome."""
    worker = make_worker(pool, settings, only_bots=bot_ids)
    freeze_startup_heap()  # and again once the first bot's client has imported aiogram
    working = asyncio.create_task(worker.run(stop))
    gave_up: errors.NothingToDo | None = None
    try:
        await watch(working)
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
    return Delivered(current, counts, failures, gave_up)


async def receive_updates(
    pool: Pool,
    settings: config.Settings,
    stop: asyncio.Event,
    announce: Announce,
    *,
    bots: list[str] | None = None,
    webhook_base: str | None = None,
    host: str = "127.0.0.1",
    port: int = DEFAULT_WEBHOOK_PORT,
    send_replies: bool = False,
) -> None:
    """Apply every active bot's updates until stop: by webhook with a base URL, else by polling.

    Replies wait in the outbox for the worker holding their bot's lease. With send_replies
    (`bulletin listen`), this process sends them itself while no worker holds the bot;
    `serve --webhook-base URL` runs this next to its workers, which send them.
    """
    # aiogram takes seconds to import: only commands that talk to Telegram pay for it.
    from bulletin.db.updates import UpdateStore
    from bulletin.telegram import webhook
    from bulletin.telegram.client import client_for
    from bulletin.telegram.listener import Listener, poll_all

    store = UpdateStore(pool)
    await store.prune()
    chosen = await _listened_bots(pool, bots)
    listeners = [
        Listener(
            bot,
            client_for(bot, settings, timeout_s=settings.listener.reply_timeout_s),
            store,
            settings.listener,
            observer=process_metrics.observer(),
        )
        for bot in chosen
    ]
    names = ", ".join(f"@{bot.username}" for bot in chosen)
    # The outbox-only sender stops with the listeners.
    replies_stop = asyncio.Event()
    replying = (
        asyncio.create_task(_send_replies(pool, settings, replies_stop, [b.id for b in chosen]))
        if send_replies
        else None
    )
    try:
        if webhook_base is not None:
            async with webhook.serving(listeners, webhook_base, host, port) as server:
                announce(f"listening for {names} by webhook at {server.base_url}; Ctrl-C to stop")
                await stop.wait()
        else:
            announce(f"listening for {names} by long polling; Ctrl-C to stop")
            await poll_all(listeners, stop)
    finally:
        if replying is not None:
            replies_stop.set()
            await replying
        for listener in listeners:
            await listener.client.close()


async def _send_replies(
    pool: Pool, settings: config.Settings, stop: asyncio.Event, bot_ids: list[int]
) -> None:
    """The outbox-only sender: leases a listened bot while its outbox waits and nobody holds it."""
    await make_worker(pool, settings, only_bots=bot_ids, outbox_only=True).run(stop)


async def _listened_bots(pool: Pool, names: list[str] | None) -> list[models.Bot]:
    async with pool.acquire() as connection:
        if names:
            chosen = [await bot_rows.find(connection, name) for name in names]
        else:
            chosen = [bot for bot, _ in await bot_rows.list_with_counts(connection)]
    active = [bot for bot in chosen if bot.status is models.BotStatus.ACTIVE]
    if not active:
        raise errors.NotFound("no active bot to listen for (see `bulletin bot list`)")
    return active
