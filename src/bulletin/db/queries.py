"""Named SQL blocks from sql/queries.sql: all runtime SQL lives in that one file."""

from __future__ import annotations

import functools
import re
from importlib import resources

BLOCK_HEADER = re.compile(r"^-- name: ([a-z_]+)\s*$", re.MULTILINE)


@functools.cache
def _blocks() -> dict[str, str]:
    text = (resources.files("bulletin.db") / "sql" / "queries.sql").read_text("utf-8")
    parts = BLOCK_HEADER.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def sql(name: str) -> str:
    """The SQL of one named block; a KeyError names a missing block at import-time tests."""
    return _blocks()[name]


def names() -> list[str]:
    return list(_blocks())
