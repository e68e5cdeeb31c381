"""`campaign report`: one row per delivery of a run, streamed to CSV or JSON Lines."""

from __future__ import annotations

import csv
import enum
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from bulletin import models
from bulletin.audience.writer import Format
from bulletin.db import campaigns as campaign_rows
from bulletin.db import reports as report_rows
from bulletin.db import runs as run_rows
from bulletin.db.pool import Pool

COLUMNS = ("chat_id", "outcome", "failure", "description", "attempts", "at")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Outcome(enum.StrEnum):
    """What `--outcome` selects: a delivery status, or a failure campaign status counts."""

    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"
    GONE = "gone"
    SKIPPED = "skipped"
    UNCERTAIN = "uncertain"


class ReportWriter:
    """Writes one delivery row at a time; CSV cells are made safe to open in a spreadsheet."""

    def __init__(self, stream: TextIO, file_format: Format) -> None:
        self.format = file_format
        self.stream = stream
        self.written = 0
        self._csv = csv.writer(stream, lineterminator="\n")
        if file_format is Format.CSV:
            self._csv.writerow(COLUMNS)

    def write(self, row: Mapping[str, Any]) -> None:
        record = _record(row)
        if self.format is Format.CSV:
            self._csv.writerow([spreadsheet_safe(record[column]) for column in COLUMNS])
        else:
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.written += 1


def spreadsheet_safe(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: Telegram's descriptions are not ours to trust.

    Numbers are written as they are: a group's negative chat id is a number, not a formula.
    """
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return str(value)


def _record(row: Mapping[str, Any]) -> dict[str, Any]:
    at: datetime | None = row["at"]
    return {
        "chat_id": row["chat_id"],
        "outcome": row["status"],
        "failure": row["failure"],
        "description": row["error"],
        "attempts": row["attempts"],
        "at": at.astimezone(UTC).isoformat() if at is not None else None,
    }


async def write(
    pool: Pool,
    name: str,
    writer: ReportWriter,
    *,
    number: int | None = None,
    outcome: Outcome | None = None,
) -> models.Run:
    """Stream a run's deliveries (the latest run, or run `number`) into the writer."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        run = await run_rows.chosen(connection, campaign, number)
        # A cursor lives in a transaction; REPEATABLE READ: one consistent picture of the run.
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            selected = outcome.value if outcome is not None else None
            async for row in report_rows.deliveries(connection, run.id, selected):
                writer.write(row)
    return run
