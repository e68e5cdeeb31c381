"""One subscriber as the API upserts it: the fields and rules of a line of `audience import`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bulletin.audience._values import (
    CHAT_ID_LIMIT,
    ValueProblem,
    check_storable,
    clean_language_code,
    clean_text,
    clean_username,
    normalize_tags,
    parse_chat_id,
    quote,
    split_tags,
)
from bulletin.audience.reader import AudienceRecord
from bulletin.audience.writer import COLUMNS

FieldValue = str | int | float | bool | None
In = TypeVar("In")
Out = TypeVar("Out")


class Subscriber(BaseModel):
    """A chat that opted in, with what an audience file's line may say of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chat_id: Annotated[
        int,
        Field(
            gt=-CHAT_ID_LIMIT,
            lt=CHAT_ID_LIMIT,
            description="The chat's Telegram id (not 0; a group's is negative)",
        ),
    ]
    first_name: str | None = None
    username: Annotated[str | None, Field(description="A leading @ is dropped")] = None
    language_code: Annotated[str | None, Field(description="Like 'en' or 'pt-br'")] = None
    tags: Annotated[
        list[str] | str | None,
        Field(description="A list, or one string split on ; , or |; trimmed, lower-case"),
    ] = None
    fields: Annotated[
        dict[str, FieldValue],
        Field(description="Custom fields for templates: text, numbers and booleans as text"),
    ] = {}

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("chat_id must be an integer")
        return _checked(parse_chat_id, value)

    @field_validator("first_name")
    @classmethod
    def _first_name(cls, value: str | None) -> str | None:
        return _checked(lambda text: clean_text("first_name", text), value)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        return _checked(clean_username, value)

    @field_validator("language_code")
    @classmethod
    def _language_code(cls, value: str | None) -> str | None:
        return _checked(clean_language_code, value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | str | None) -> tuple[str, ...]:
        if isinstance(value, list):
            return _checked(normalize_tags, value)
        return _checked(split_tags, value)

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, FieldValue]) -> dict[str, str]:
        return _checked(_clean_fields, value)

    def record(self, line: int) -> AudienceRecord:
        """The record an audience file's line `line` with these values reads as."""
        tags: Any = self.tags  # a tuple once validated
        return AudienceRecord(
            line,
            self.chat_id,
            self.first_name,
            self.username,
            self.language_code,
            tags,
            self.fields,  # type: ignore[arg-type]  # text only once validated
        )


def _checked(clean: Callable[[In], Out], value: In) -> Out:
    """`clean(value)`, its ValueProblem as the ValueError pydantic reports with the field."""
    try:
        return clean(value)
    except ValueProblem as problem:
        raise ValueError(str(problem)) from None


def _clean_fields(raw: dict[str, FieldValue]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in raw.items():
        if key in COLUMNS or key.lower() in COLUMNS:
            raise ValueProblem(f"{quote(key)} is a column, not a custom field")
        check_storable(f"field name {quote(key)}", key)
        text = clean_text(f"field {quote(key)}", _field_text(key, value))
        if text is not None:
            fields[key] = text
    return fields


def _field_text(key: str, value: FieldValue) -> str | None:
    """A field's value as an audience file's text holds it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueProblem(f"field {quote(key)} is not a finite number")
    return str(value)
