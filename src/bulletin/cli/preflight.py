"""`bulletin campaign preview | check`: see the audience and the messages before anything is sent."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from bulletin import config, errors, models
from bulletin.campaign import lifecycle
from bulletin.campaign.spec import CampaignSpec
from bulletin.cli.context import Options, database, run
from bulletin.cli.output import console, print_table
from bulletin.content import render
from bulletin.content.spec import Content
from bulletin.db import bots as bot_rows
from bulletin.db import campaigns as campaign_rows
from bulletin.db import outbox as outbox_rows
from bulletin.db import schedules
from bulletin.db.pool import Pool

TEST_RECIPIENT_NAME = "Test"
TEST_SEND_TIMEOUT_S = 60.0  # a 5xx is retried with backoff: a few attempts fit
OUTCOME_POLL_S = 0.1
FINAL = (models.OutboxStatus.SENT, models.OutboxStatus.FAILED)


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)
    app.command("check")(check)


def preview(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name")],
    samples: Annotated[int, typer.Option(min=0, max=50, help="Rendered samples to show")] = 3,
) -> None:
    """The audience a run would have now, and a few messages rendered for real subscribers."""
    settings = ctx.ensure_object(Options).settings()

    async def go() -> tuple[CampaignSpec, int, list[models.Recipient]]:
        async with database(settings) as pool, pool.acquire() as connection:
            campaign = await campaign_rows.find(connection, name)
            spec = (await campaign_rows.design(connection, campaign.id)).spec
            only_new = lifecycle.reaches_only_new_chats(spec.schedule, again=False)
            audience, recipients = await schedules.sample(
                connection, spec, max(samples, 1), campaign_id=campaign.id, only_new=only_new
            )
            return spec, audience, recipients[:samples]

    spec, audience, recipients = run(go())
    console.print(f"campaign [bold]{name}[/]: a run now would reach {audience:,} chat(s)")
    rows = [
        [variant.name, recipient.chat_id, _rendered(spec, variant.name, recipient)]
        for recipient in recipients
        for variant in spec.variants
        if variant.language in (None, _language(recipient))
    ]
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
            return await run_check(pool, settings, name, test_chat)

    audience, problems = run(go())
    if problems:
        raise errors.ContentError(f"check failed: {'; '.join(problems)}")
    sent = f"; every variant sent to chat {test_chat}" if test_chat is not None else ""
    console.print(f"check passed for {name}: {audience:,} subscriber(s) in the segment{sent}")


async def run_check(
    pool: Pool, settings: config.Settings, name: str, test_chat: int | None
) -> tuple[int, list[str]]:
    """The offline check, then file ids and the test send through the campaign's bots."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        spec = (await campaign_rows.design(connection, campaign.id)).spec
        audience, samples = await schedules.sample(connection, spec, schedules.CHECK_SAMPLES)
        problems = await schedules.preflight(connection, spec)
        bots = [await bot_rows.find(connection, bot) for bot in spec.segment.bots or (spec.bot,)]
    if problems:
        return audience, problems
    file_ids = [
        (variant.name, file_id)
        for variant in spec.variants
        for file_id in _file_ids(variant.content())
    ]
    for bot in bots:
        # Only what talks to Telegram imports its client (seconds of imports).
        problems += await _check_file_ids(bot, file_ids) if file_ids else []
    if test_chat is not None:
        recipient = samples[0] if samples else models.Recipient(test_chat, TEST_RECIPIENT_NAME)
        problems += await _test_send(pool, settings, bots[0], spec, recipient, test_chat)
    return audience, problems


async def _check_file_ids(bot: models.Bot, file_ids: list[tuple[str, str]]) -> list[str]:
    """Every file_id the variants name, asked of Telegram for this bot."""
    from bulletin.telegram.classify import Action
    from bulletin.telegram.client import BotClient

    client = BotClient(bot.token, bot.api_url)
    problems = []
    try:
        for variant_name, file_id in file_ids:
            outcome = await client.get_file(file_id)
            if outcome.action is not Action.SENT:
                problems.append(f"variant {variant_name}: bot {bot.name}: {outcome.description}")
    finally:
        await client.close()
    return problems


async def _test_send(
    pool: Pool,
    settings: config.Settings,
    bot: models.Bot,
    spec: CampaignSpec,
    recipient: models.Recipient,
    test_chat: int,
) -> list[str]:
    """Every variant to the test chat, through the bot's outbox: at its pace, never around it."""
    rendered = [
        (variant.name, render.build(variant.content(), _values(spec, recipient)))
        for variant in spec.variants
    ]
    async with pool.acquire() as connection, connection.transaction():
        ids = [
            await outbox_rows.enqueue(connection, bot.id, test_chat, models.OutboxKind.TEST, m)
            for _, m in rendered
        ]
    outcomes = await _sent_by_lease_holder(pool, settings, bot, ids)
    return [
        f"variant {variant_name}: test send: {error or status}"
        for (variant_name, _), (status, error) in zip(rendered, outcomes, strict=True)
        if status is not models.OutboxStatus.SENT
    ]


async def _sent_by_lease_holder(
    pool: Pool, settings: config.Settings, bot: models.Bot, ids: list[int]
) -> list[tuple[models.OutboxStatus, str | None]]:
    """Wait for the outcomes; this process sends them itself while no worker holds the bot."""
    from bulletin.cli.delivery import make_worker

    stop = asyncio.Event()
    sender = asyncio.create_task(
        make_worker(pool, settings, only_bots=[bot.id], outbox_only=True).run(stop)
    )
    try:
        async with asyncio.timeout(TEST_SEND_TIMEOUT_S):
            while True:
                async with pool.acquire() as connection:
                    outcomes = await outbox_rows.outcomes(connection, ids)
                if all(status in FINAL for status, _ in outcomes):
                    return outcomes
                await asyncio.sleep(OUTCOME_POLL_S)
    except TimeoutError:
        async with pool.acquire() as connection:
            await outbox_rows.cancel(
                connection, ids, f"not sent within {TEST_SEND_TIMEOUT_S:.0f} s"
            )
            return await outbox_rows.outcomes(connection, ids)
    finally:
        stop.set()
        await sender


def _file_ids(content: Content) -> list[str]:
    sources = [content.media] if content.media else []
    sources += [item.media for item in content.album]
    return [s for s in sources if s and models.MediaOrigin.of(s) is models.MediaOrigin.FILE_ID]


def _values(spec: CampaignSpec, recipient: models.Recipient) -> dict[str, object]:
    template = models.Template(
        0, spec.name, json.dumps(spec.fields), "", models.ParseMode.NONE, "{}"
    )
    return render.values(template, recipient)


def _rendered(spec: CampaignSpec, variant_name: str, recipient: models.Recipient) -> str:
    variant = next(v for v in spec.variants if v.name == variant_name)
    try:
        message = render.build(variant.content(), _values(spec, recipient))
    except errors.ContentError as exc:
        return f"(cannot render: {exc})"
    media = ", ".join(f"{m.kind} {m.source}" for m in message.media)
    return f"[{message.kind}{': ' + media if media else ''}] {message.text}"  # a table shows text


def _language(recipient: models.Recipient) -> str | None:
    code = recipient.language_code
    return code.split("-")[0].lower() if code else None
