"""Errors as application/problem+json (RFC 9457), carrying the one line the CLI prints."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from bulletin import errors

MEDIA_TYPE = "application/problem+json"

# Most specific first: RunUnfinished is a NotAllowed, MessageTooLong a ContentError.
STATUS_OF: tuple[tuple[type[errors.BulletinError], int], ...] = (
    (errors.NotFound, 404),
    (errors.AlreadyExists, 409),
    (errors.NotAllowed, 409),
    (errors.NothingToSend, 409),
    (errors.InputError, 400),
    (errors.ContentError, 400),
    (errors.ConfigError, 400),
    (errors.DatabaseError, 503),
)


class Problem(BaseModel):
    """What went wrong, in one line (`detail`), and for a bad body, which field."""

    model_config = ConfigDict(extra="forbid")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None


def answer(status: int, detail: str, field: str | None = None, **headers: str) -> JSONResponse:
    problem = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, field=field)
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status,
        headers=headers or None,
        media_type=MEDIA_TYPE,
    )


def status_of(error: errors.BulletinError) -> int:
    return next((status for kind, status in STATUS_OF if isinstance(error, kind)), 400)


async def _bulletin_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, errors.BulletinError)
    status = status_of(error)
    return answer(status, str(error), **({"Retry-After": "5"} if status == 503 else {}))


async def _invalid(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first: dict[str, Any] = error.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ()))
    return answer(422, f"{field}: {first.get('msg', 'invalid')}", field=field)


async def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 400 and error.__cause__ is not None:
        # FastAPI's own, for a body it could not decode: say which part was wrong.
        return answer(400, "body: not JSON in UTF-8", field="body", **headers)
    return answer(error.status_code, str(error.detail), **headers)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # A bug of ours: the client learns only that, the log has the rest.
    return answer(500, "internal error; the server's log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.BulletinError, _bulletin_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route: each of these statuses answers a Problem."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
