"""The route of /api/v1/media: a file uploaded as the raw request body."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request

from bulletin.app import api_media
from bulletin.web import api, auth, problems, schemas

router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(auth.check)],
    responses=problems.documented(400, 401, 403, 409, 413, 422, 503),
    tags=["media"],
)

RAW_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file itself, as the raw body (at most the server's body limit)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("/media", response_model=schemas.Uploaded, status_code=201, openapi_extra=RAW_BODY)
async def upload_media(
    request: Request,
    pool: api.PoolOf,
    filename: Annotated[
        str,
        Query(
            pattern=api_media.FILENAME.pattern,
            description="The file's name, as Telegram shows it",
        ),
    ],
    content_type: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Upload a photo, video or file once; name it in a campaign's `media` as the answer's
    `media` (`upload:<sha256>`), and any serve process sends it."""
    content = await request.body()
    return await api_media.upload(
        pool, filename=filename, content_type=content_type, content=content
    )
