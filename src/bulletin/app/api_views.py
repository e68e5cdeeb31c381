"""What the HTTP API asks of bulletin beyond the CLI's use cases: a campaign document from
JSON, a start that a retry does not repeat, a run's status and its deliveries by page."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from bulletin import errors, models
from bulletin.app import campaigns as campaign_cases
from bulletin.app import reports, runs
from bulletin.campaign import document
from bulletin.db import api_reads, migrations
from bulletin.db import campaigns as campaign_rows
from bulletin.db import pool as pools
from bulletin.db import runs as run_rows
from bulletin.db import tokens as token_rows

Pool = pools.Pool
READY_TIMEOUT_S = 5.0
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, as Stripe's
# Characters YAML will not read even escaped by JSON (C1 controls, DEL, non-characters),
# and what no text column can hold (NUL, lone surrogates).
_UNREADABLE = re.compile("[\x00\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
SOURCE = "request body"


async def ready(pool: Pool) -> str | None:
    """Why this process cannot serve (database unreachable, schema not current), or None."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), pools.connection(pool) as connection:
            await migrations.check(connection)
    except TimeoutError:
        return "the database did not answer in time"
    except errors.DatabaseError as exc:
        return str(exc)
    return None


async def design(pool: Pool, name: str) -> dict[str, Any]:
    """What `campaign show --format json` prints: the document `campaign apply` reads."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        return (await campaign_rows.design(connection, campaign.id)).spec.document()


async def apply(pool: Pool, name: str, raw: dict[str, Any]) -> tuple[models.Campaign, str]:
    """`campaign apply` of a JSON document; media by URL, file_id or an API upload, never a
    path here."""
    if raw.setdefault("name", name) != name:
        raise errors.InputError(f"name: {raw['name']!r} differs from the URL's {name!r}")
    for location, value in _strings(raw, ()):
        where = ".".join(str(part) for part in location)
        if _UNREADABLE.search(value):
            raise errors.InputError(f"{where}: holds a character text cannot carry")
        if location and location[-1] == "media":
            _refuse_server_path(where, value)
    text = json.dumps(raw, ensure_ascii=False, indent=1)
    return await campaign_cases.apply(pool, document.parse(text, SOURCE))


def _refuse_server_path(where: str, source: str) -> None:
    origin = models.MediaOrigin.of(source)
    if origin is models.MediaOrigin.PATH:
        raise errors.InputError(
            f"{where}: through the API, media is a URL, a file_id or an upload "
            f"({models.UPLOAD_PREFIX}…, from POST /api/v1/media), not a path on the server"
        )
    if origin is models.MediaOrigin.URL and not source.startswith(("https://", "http://")):
        raise errors.InputError(f"{where}: a media URL is http:// or https://")


def _strings(
    value: Any, location: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string of a JSON tree (keys too), with where it is."""
    if isinstance(value, str):
        yield location, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*location, key), str(key)
            yield from _strings(item, (*location, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*location, index))


async def start_once(pool: Pool, name: str, key: str | None) -> dict[str, Any]:
    """`campaign start`; with a key, a retry answers what the first start did and starts nothing.

    The key's row is inserted in a transaction held open across the start: a concurrent
    retry waits on it, then reads the answer. A start that fails keeps no answer.
    """
    if key is None:
        return await _start(pool, name)
    if not IDEMPOTENCY_KEY.match(key):
        raise errors.InputError("Idempotency-Key: 1 to 200 printable ASCII characters")
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        scope = f"start {campaign.id}"
        async with connection.transaction():
            earlier = await token_rows.claim_key(connection, scope, key)
            if earlier is not None:
                return {**earlier[1], "replayed": True}
            answer = await _start(pool, name)
            await token_rows.keep_answer(connection, scope, key, 200, answer)
            return answer


async def _start(pool: Pool, name: str) -> dict[str, Any]:
    try:
        started = await runs.start(pool, name)
    except errors.NothingToSend as exc:
        return {"outcome": "nothing_to_send", "message": str(exc), "run": None}
    if isinstance(started, datetime):
        at = started.astimezone(UTC).isoformat()
        return {"outcome": "scheduled", "message": f"first run at {at}", "next_run_at": at}
    return {
        "outcome": "started",
        "message": started.summary,
        "run": await status(pool, name, started.run.number),
    }


async def status(pool: Pool, name: str, number: int | None = None) -> dict[str, Any]:
    """What `campaign status --json` says of a run (the latest, or run `number`)."""
    found = await runs.status(pool, name, number)
    return {**runs.outcome(found.run, found.counts), "failures": runs.failure_rows(found.failures)}


async def runs_of(pool: Pool, name: str) -> list[dict[str, Any]]:
    """`campaign runs --json`: every run of a campaign, oldest first."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        summaries = await run_rows.of_campaign(connection, campaign)
    return [
        {
            "run": s.run.number,
            "status": s.run.status.value,
            "paused_reason": s.run.paused_reason,
            "audience": s.run.audience,
            "sent": s.sent,
            "failed": s.failed,
            "uncertain": s.uncertain,
            "pending": s.pending,
            "started_at": s.run.started_at,
            "finished_at": s.run.finished_at,
        }
        for s in summaries
    ]


async def deliveries(
    pool: Pool,
    name: str,
    number: int,
    *,
    outcome: reports.Outcome | None = None,
    after: int = 0,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of `campaign report`, and the cursor of the next page (None: the last)."""
    async with pool.acquire() as connection:
        campaign = await campaign_rows.find(connection, name)
        run = await run_rows.by_number(connection, campaign, number)
        selected = outcome.value if outcome is not None else None
        rows = await api_reads.delivery_page(connection, run.id, selected, after, limit + 1)
    page = [
        {
            "id": row["id"],
            "chat_id": row["chat_id"],
            "outcome": row["status"],
            "failure": row["failure"],
            "description": row["error"],
            "attempts": row["attempts"],
            "at": row["at"],
        }
        for row in rows[:limit]
    ]
    return page, (page[-1]["id"] if len(rows) > limit else None)
