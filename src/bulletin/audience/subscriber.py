"""One subscriber as the API upserts it: the fields and rules of a line of `audience import`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from bulletin.audience._values import (
    CHAT_ID_LIMIT,
    ValueProblem,
    check_storable,
    clean_language_code,
    clean_text,
    clean_username,
    is_storable,
    normalize_tags,
    quote,
    split_tags,
)
from bulletin.audience.reader import AudienceRecord
from bulletin.audience.writer import COLUMNS

FieldValue = str | int | float | bool | None


class Subscriber(BaseModel):
    """A chat that opted in, with what an audience file's line may say of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chat_id: Annotated[
        int,
        Field(
            strict=True,
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

    @model_validator(mode="after")
    def _clean(self) -> Self:
        # One validator for the whole model, not one per field: a batch has 10,000 of them.
        for name, clean in _CLEANERS:
            value = getattr(self, name)
            try:
                cleaned = clean(value)
            except ValueProblem as problem:
                raise _invalid(name, value, str(problem)) from None
            if cleaned is not value:
                object.__setattr__(self, name, cleaned)
        return self

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


def _chat_id(value: int) -> int:
    if value == 0:
        raise ValueProblem("chat_id must not be 0")
    return value


def _tags(value: list[str] | str | None) -> tuple[str, ...]:
    return normalize_tags(value) if isinstance(value, list) else split_tags(value)


def _first_name(value: str | None) -> str | None:
    return clean_text("first_name", value)


def _invalid(name: str, value: Any, message: str) -> ValidationError:
    """The error pydantic reports for field `name` of the subscriber, at its place."""
    error = PydanticCustomError("value_error", "{message}", {"message": message})
    return ValidationError.from_exception_data(
        "Subscriber", [InitErrorDetails(type=error, loc=(name,), input=value)]
    )


_COLUMN_NAMES = frozenset(COLUMNS)


def _clean_fields(raw: dict[str, FieldValue]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in raw.items():
        if key in _COLUMN_NAMES or key.lower() in _COLUMN_NAMES:
            raise ValueProblem(f"{quote(key)} is a column, not a custom field")
        text = value if type(value) is str else _field_text(key, value)
        if not (is_storable(key) and (text is None or is_storable(text))):
            # Rare: the checks again, for the message that names what is wrong.
            check_storable(f"field name {quote(key)}", key)
            clean_text(f"field {quote(key)}", text)
        if text is not None and (text := text.strip()):
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


_CLEANERS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("chat_id", _chat_id),
    ("first_name", _first_name),
    ("username", clean_username),
    ("language_code", clean_language_code),
    ("tags", _tags),
    ("fields", _clean_fields),
)
