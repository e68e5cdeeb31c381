"""The outcome of a run, as a table or JSON: shared by `campaign status`, `run` and `demo`."""

from __future__ import annotations

from typing import Any

from bulletin import models
from bulletin.cli.output import print_mapping, print_table


def outcome(run: models.Run, counts: models.RunCounts) -> dict[str, Any]:
    elapsed_s = None
    if run.finished_at is not None:
        elapsed_s = round((run.finished_at - run.started_at).total_seconds(), 1)
    return {
        "run": run.number,
        "run_id": run.id,
        "campaign": run.campaign_name,
        "status": run.status.value,
        "paused_reason": run.paused_reason,
        "audience": run.audience,
        "sent": counts.sent,
        "failed": counts.failed,
        "blocked": counts.blocked,
        "gone": counts.gone,
        "skipped": counts.skipped,
        "uncertain": counts.uncertain,
        "pending": counts.pending + counts.sending,
        "retried": counts.retried,
        "rate_limited_429": counts.rate_limited,
        "msgs_per_s": round(counts.sent_per_s, 1),
        "elapsed_s": elapsed_s,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def print_outcome(
    run: models.Run,
    counts: models.RunCounts,
    failures: list[tuple[str, str | None, int]],
) -> None:
    values = outcome(run, counts)
    hidden = {"started_at", "finished_at", "run", "run_id"}
    shown = {k: v for k, v in values.items() if k not in hidden}
    if not shown["paused_reason"]:
        shown.pop("paused_reason")
    print_mapping(run.label, shown)
    if failures:
        print_table("why not sent", ["reason", "last error", "deliveries"], failures)
