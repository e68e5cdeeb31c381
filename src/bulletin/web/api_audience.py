"""The audience routes of /api/v1: upserts, uploads, one subscriber, streamed exports.

Each parses, calls one use case of app/subscribers.py, and answers as `audience import`,
`audience export` and `audience forget` say.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from bulletin import errors, models
from bulletin.app import audience, subscribers
from bulletin.app.api_views import Pool
from bulletin.audience.reader import Format as FileFormat
from bulletin.audience.subscriber import Subscriber
from bulletin.audience.writer import Format
from bulletin.web import auth, problems
from bulletin.web.schemas import NAME_PATTERN

router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(auth.check)],
    responses=problems.documented(400, 401, 403, 404, 409, 413, 422, 503),
    tags=["audience"],
)

BotName = Annotated[str, Path(pattern=NAME_PATTERN, description="The bot's name, @username or id")]
ChatId = Annotated[
    int, Path(gt=-(2**52), lt=2**52, description="The chat's Telegram id (a group's is negative)")
]
Text = Annotated[str, Field(pattern=NAME_PATTERN)]
Texts = Annotated[list[Text] | None, Query()]
Moment = Annotated[
    str | None,
    Query(pattern=NAME_PATTERN, description="ISO 8601 date or time (UTC unless it says)"),
]
DryRun = Annotated[bool, Query(description="Merge, answer what would change, keep nothing")]

# What an upload's Content-Type says of its format; None: sniffed from the first line.
UPLOAD_FORMATS: dict[str, FileFormat | None] = {
    "text/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "text/plain": None,
    "application/octet-stream": None,
}
EXPORT_MEDIA_TYPES = {Format.CSV: "text/csv; charset=utf-8", Format.JSONL: "application/x-ndjson"}
_TEXT_BODY = {"schema": {"type": "string"}}


def pool_of(request: Request) -> Pool:
    access: auth.Access = request.app.state.access
    return access.pool


PoolOf = Annotated[Pool, Depends(pool_of)]


class Upsert(BaseModel):
    """Up to 10,000 subscribers, with the fields and rules of an audience file's lines."""

    model_config = ConfigDict(extra="forbid")

    subscribers: Annotated[list[Subscriber], Field(min_length=1, max_length=subscribers.MAX_UPSERT)]


class ImportSummary(BaseModel):
    """What the merge did: `audience import`'s summary, figure by figure and as its lines."""

    model_config = ConfigDict(extra="forbid")

    new: int
    known: int
    changed: int
    unchanged: int
    forgotten: int = Field(description="Left out: forgotten chats are never imported again")
    opted_out: int = Field(description="Known chats that opted out: they stay unsubscribed")
    invalid_lines: int = Field(description="Lines left out with skip_invalid")
    custom_fields: list[str]
    dry_run: bool
    summary: list[str]


class SubscriberRecord(BaseModel):
    """A subscriber, with the columns of `audience export`."""

    model_config = ConfigDict(extra="forbid")

    chat_id: int
    chat_type: models.ChatType
    status: models.SubscriberStatus
    first_name: str | None
    username: str | None
    language_code: str | None
    tags: list[str]
    fields: dict[str, Any]
    source: str | None
    title: str | None
    can_post: bool | None
    flagged: str | None
    created_at: datetime
    updated_at: datetime


class Forgot(BaseModel):
    """What `audience forget CHAT --bot BOT` did: a tombstone stays either way."""

    model_config = ConfigDict(extra="forbid")

    chat_id: int
    bot: str
    erased: bool = Field(description="Whether the bot knew the chat (its data is gone now)")
    message: str


def _summary(imported: audience.Imported, dry_run: bool) -> ImportSummary:
    result = imported.result
    return ImportSummary(
        new=result.inserted,
        known=result.known,
        changed=result.updated,
        unchanged=result.unchanged,
        forgotten=result.forgotten,
        opted_out=imported.opted_out or 0,
        invalid_lines=imported.invalid.count,
        custom_fields=list(imported.custom_fields),
        dry_run=dry_run,
        summary=imported.summary(dry_run=dry_run),
    )


@router.post("/bots/{name}/subscribers", response_model=ImportSummary)
async def upsert_subscribers(
    name: BotName, batch: Upsert, pool: PoolOf, dry_run: DryRun = False
) -> ImportSummary:
    """Create or update subscribers, all or none; opted-out and forgotten chats stay out."""
    imported = await subscribers.upsert(pool, name, batch.subscribers, dry_run=dry_run)
    return _summary(imported, dry_run)


@router.post(
    "/bots/{name}/imports",
    response_model=ImportSummary,
    responses=problems.documented(415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "An audience file: CSV with a header, JSON Lines, or one chat id "
            "a line (text/plain: the format is read from the first line)",
            "content": {media_type: _TEXT_BODY for media_type in UPLOAD_FORMATS},
        }
    },
)
async def import_file(
    name: BotName,
    request: Request,
    pool: PoolOf,
    tag: Annotated[Texts, Query(description="Tag every imported chat")] = None,
    skip_invalid: Annotated[bool, Query(description="Import the valid lines")] = False,
    dry_run: DryRun = False,
) -> ImportSummary | JSONResponse:
    """`audience import` of the request body; a bad line: 422 naming it, nothing written."""
    file_format = _upload_format(request.headers.get("content-type"))
    if isinstance(file_format, JSONResponse):
        return file_format
    body = await request.body()
    try:
        imported = await subscribers.import_upload(
            pool, name, body, file_format, tags=tag or (), skip_invalid=skip_invalid,
            dry_run=dry_run,
        )  # fmt: skip
    except errors.InputError as refused:
        return problems.answer(422, str(refused), field="body")
    return _summary(imported, dry_run)


def _upload_format(content_type: str | None) -> FileFormat | JSONResponse | None:
    """The format a Content-Type names, or a 415 problem for one that is no audience file."""
    if content_type is None:
        return None
    media_type, _, parameters = content_type.partition(";")
    charset = parameters.strip().lower().removeprefix("charset=").strip('"')
    if charset not in ("", "utf-8", "utf8"):
        return problems.answer(415, "an audience file is UTF-8 text", field="content-type")
    media_type = media_type.strip().lower()
    if media_type not in UPLOAD_FORMATS:
        known = ", ".join(UPLOAD_FORMATS)
        return problems.answer(415, f"Content-Type is one of {known}", field="content-type")
    return UPLOAD_FORMATS[media_type]


@router.get(
    "/bots/{name}/subscribers/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "What `audience export` writes: CSV, or JSON Lines",
            "content": {media_type: _TEXT_BODY for media_type in EXPORT_MEDIA_TYPES.values()},
        }
    },
)
async def export_subscribers(
    name: BotName,
    pool: PoolOf,
    format: Format = Format.CSV,
    status: models.SubscriberStatus | None = None,
    tag: Annotated[Texts, Query(description="Only chats with every one of these")] = None,
    any_tag: Annotated[Texts, Query(description="Only chats with one of these at least")] = None,
    without_tag: Annotated[Texts, Query(description="Only chats with none of these")] = None,
    language: Annotated[Texts, Query(description="Only these ('pt' matches pt-br)")] = None,
    chat_type: Annotated[list[models.ChatType] | None, Query()] = None,
    subscribed_after: Moment = None,
    subscribed_before: Moment = None,
    raw: Annotated[bool, Query(description="CSV cells as stored: no ' before = + - @")] = False,
) -> StreamingResponse:
    """`audience export`, streamed as it is read: same filters, same columns, same bytes."""
    segment = audience.segment_of(
        all_tags=tag or (),
        any_tags=any_tag or (),
        without_tags=without_tag or (),
        languages=language or (),
        chat_types=chat_type or (),
        subscribed_after=("subscribed_after", subscribed_after),
        subscribed_before=("subscribed_before", subscribed_before),
    )
    chunks = subscribers.export_chunks(pool, name, status, segment, format, raw=raw)
    first = await anext(chunks)  # the bot is found, or this raises before any output
    return StreamingResponse(_streamed(first, chunks), media_type=EXPORT_MEDIA_TYPES[format])


async def _streamed(first: str, chunks: AsyncGenerator[str]) -> AsyncIterator[str]:
    """The export's pieces; its connection goes back to the pool even if the client leaves."""
    try:
        yield first
        async for chunk in chunks:
            yield chunk
    finally:
        await chunks.aclose()


@router.get("/bots/{name}/subscribers/{chat_id}", response_model=SubscriberRecord)
async def show_subscriber(name: BotName, chat_id: ChatId, pool: PoolOf) -> dict[str, Any]:
    """One subscriber of the bot, as `audience export --format jsonl` writes it."""
    return await subscribers.find(pool, name, chat_id)


@router.delete("/bots/{name}/subscribers/{chat_id}", response_model=Forgot)
async def forget_subscriber(name: BotName, chat_id: ChatId, pool: PoolOf) -> Forgot:
    """`audience forget CHAT --bot BOT`: erase the chat's data; no import brings it back."""
    forgot = await subscribers.forget(pool, name, chat_id)
    return Forgot(
        chat_id=forgot.chat_id, bot=forgot.bot, erased=forgot.erased, message=forgot.message
    )
