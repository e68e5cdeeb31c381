"""`bulletin campaign preview | check`: see the audience and the messages before anything is sent."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from bulletin import errors, models
from bulletin.campaign.spec import CampaignSpec
from bulletin.cli.context import Options, database, run
from bulletin.cli.output import console, print_table
from bulletin.content import render
from bulletin.content.spec import Content
from bulletin.db import bots as bot_rows
from bulletin.db import campaigns as campaign_rows
from bulletin.db import schedules
from bulletin.db.pool import Pool

if TYPE_CHECKING:
    from bulletin.engine.ports import Sender

TEST_RECIPIENT_NAME = "Test"


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
            audience, recipients = await schedules.sample(connection, spec, max(samples, 1))
            return spec, audience, recipients[:samples]

    spec, audience, recipients = run(go())
    console.print(f"campaign [bold]{name}[/]: {audience:,} subscriber(s) in the segment now")
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
            return await run_check(pool, name, test_chat)

    audience, problems = run(go())
    if problems:
        raise errors.ContentError(f"check failed: {'; '.join(problems)}")
    sent = f"; every variant sent to chat {test_chat}" if test_chat is not None else ""
    console.print(f"check passed for {name}: {audience:,} subscriber(s) in the segment{sent}")


async def run_check(pool: Pool, name: str, test_chat: int | None) -> tuple[int, list[str]]:
    """The offline check, then file ids and the test send through the campaign's bots."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        spec = (await campaign_rows.design(connection, campaign.id)).spec
        audience, samples = await schedules.sample(connection, spec, schedules.CHECK_SAMPLES)
        problems = await schedules.preflight(connection, spec)
        bots = [await bot_rows.find(connection, bot) for bot in spec.segment.bots or (spec.bot,)]
    if problems:
        return audience, problems
    for bot in bots:
        problems += await _online(
            pool, bot, spec, samples, test_chat if bot.name == bots[0].name else None
        )
    return audience, problems


async def _online(
    pool: Pool,
    bot: models.Bot,
    spec: CampaignSpec,
    samples: list[models.Recipient],
    test_chat: int | None,
) -> list[str]:
    # aiogram takes seconds to import: only commands that talk to Telegram pay for it.
    from bulletin.db.media import MediaFiles
    from bulletin.engine.uploads import Uploads
    from bulletin.telegram.classify import Action
    from bulletin.telegram.client import BotClient

    client = BotClient(bot.token, bot.api_url)
    sender: Sender = Uploads(client, bot.id, MediaFiles(pool))
    problems = []
    try:
        for variant in spec.variants:
            for file_id in _file_ids(variant.content()):
                outcome = await client.get_file(file_id)
                if outcome.action is not Action.SENT:
                    problems.append(
                        f"variant {variant.name}: bot {bot.name}: {outcome.description}"
                    )
            if test_chat is None:
                continue
            recipient = samples[0] if samples else models.Recipient(test_chat, TEST_RECIPIENT_NAME)
            message = render.build(variant.content(), _values(spec, recipient))
            outcome = await sender.send(test_chat, message)
            if outcome.action is not Action.SENT:
                problems.append(f"variant {variant.name}: test send: {outcome.description}")
    finally:
        await sender.close()
    return problems


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
