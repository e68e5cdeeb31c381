"""Before anything is sent: the audience a run would have, rendered samples, the pre-flight check."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from bulletin import config, errors, models
from bulletin.campaign import lifecycle
from bulletin.campaign.spec import CampaignSpec
from bulletin.content import check as content_check
from bulletin.content import render
from bulletin.content.spec import Content
from bulletin.db import bots as bot_rows
from bulletin.db import campaigns as campaign_rows
from bulletin.db import outbox as outbox_rows
from bulletin.db import schedules
from bulletin.db.connection import Connection
from bulletin.db.pool import Pool

CHECK_SAMPLES = 5
TEST_RECIPIENT_NAME = "Test"
TEST_SEND_TIMEOUT_S = 60.0  # a 5xx is retried with backoff: a few attempts fit
OUTCOME_POLL_S = 0.1
FINAL = (models.OutboxStatus.SENT, models.OutboxStatus.FAILED)


async def preflight(connection: Connection, spec: CampaignSpec) -> list[str]:
    """The offline part of the pre-flight check, for a sample of the segment's subscribers."""
    _, samples = await sample(connection, spec, CHECK_SAMPLES)
    return content_check.problems(spec.variants, spec.name, json.dumps(spec.fields), samples)


async def sample(
    connection: Connection,
    spec: CampaignSpec,
    limit: int,
    *,
    campaign_id: int | None = None,
    only_new: bool = False,
) -> tuple[int, list[models.Recipient]]:
    """The audience a run would have now (only chats the campaign has not reached, when
    `only_new`) and its first subscribers."""
    bot_ids = await campaign_rows.segment_bot_ids(connection, spec)
    return await schedules.recipients(
        connection,
        bot_ids,
        spec.segment,
        limit,
        spec.caps.per_run,
        campaign_id,
        only_new and campaign_id is not None,
    )


@dataclass(frozen=True, slots=True)
class Sample:
    """One variant rendered for one subscriber, as `campaign preview` shows it."""

    variant: str
    chat_id: int
    message: str  # "[kind: media] text", or "(cannot render: …)"


@dataclass(frozen=True, slots=True)
class Preview:
    audience: int  # chats a run now would reach
    samples: tuple[Sample, ...]

    def as_json(self, name: str) -> dict[str, object]:
        """What `campaign preview --json` prints (and the API answers)."""
        return {
            "campaign": name,
            "audience": self.audience,
            "samples": [
                {"variant": s.variant, "chat_id": s.chat_id, "message": s.message}
                for s in self.samples
            ],
        }


async def preview(pool: Pool, name: str, samples: int) -> Preview:
    """The audience a run would have now, and a few messages rendered for real subscribers."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        spec = (await campaign_rows.design(connection, campaign.id)).spec
        only_new = lifecycle.reaches_only_new_chats(spec.schedule, again=False)
        audience, recipients = await sample(
            connection, spec, max(samples, 1), campaign_id=campaign.id, only_new=only_new
        )
    shown = tuple(
        _rendered(spec, variant.name, recipient)
        for recipient in recipients[:samples]
        for variant in spec.variants
        if variant.language in (None, _language(recipient))
    )
    return Preview(audience, shown)


async def check(
    pool: Pool, settings: config.Settings, name: str, test_chat: int | None
) -> tuple[int, list[str]]:
    """The offline check, then file ids and the test send through the campaign's bots."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        spec = (await campaign_rows.design(connection, campaign.id)).spec
        audience, samples = await sample(connection, spec, CHECK_SAMPLES)
        problems = await preflight(connection, spec)
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
    from bulletin.app.serve import make_worker

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


def _rendered(spec: CampaignSpec, variant_name: str, recipient: models.Recipient) -> Sample:
    variant = next(v for v in spec.variants if v.name == variant_name)
    try:
        message = render.build(variant.content(), _values(spec, recipient))
    except errors.ContentError as exc:
        return Sample(variant_name, recipient.chat_id, f"(cannot render: {exc})")
    media = ", ".join(f"{m.kind} {m.source}" for m in message.media)
    shown = f"[{message.kind}{': ' + media if media else ''}] {message.text}"
    return Sample(variant_name, recipient.chat_id, shown)


def _language(recipient: models.Recipient) -> str | None:
    code = recipient.language_code
    return code.split("-")[0].lower() if code else None
