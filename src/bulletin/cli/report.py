"""The outcome of a run, as a table or JSON: shared by `campaign status`, `run` and `demo`."""

from __future__ import annotations

from bulletin import models
from bulletin.app import runs
from bulletin.cli.output import print_mapping, print_table


def print_outcome(
    run: models.Run,
    counts: models.RunCounts,
    failures: list[tuple[str, str | None, int]],
) -> None:
    values = runs.outcome(run, counts)
    hidden = {"started_at", "finished_at", "run", "run_id"}
    shown = {k: v for k, v in values.items() if k not in hidden}
    if not shown["paused_reason"]:
        shown.pop("paused_reason")
    if shown["pruned_at"] is None:
        shown.pop("pruned_at")
    else:
        shown["pruned_at"] = (
            f"{run.pruned_at:%Y-%m-%d %H:%M} UTC (deliveries deleted, figures kept)"
        )
    print_mapping(run.label, shown)
    if failures:
        print_table("why not sent", ["reason", "last error", "deliveries"], failures)
