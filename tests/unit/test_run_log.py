"""What `serve` logs of a run, from the status it last logged to the status the run has now."""

from __future__ import annotations

import pytest

from bulletin.app.run_log import actions
from bulletin.models import RunStatus


@pytest.mark.parametrize(
    ("previous", "status", "expected"),
    [
        (None, RunStatus.RUNNING, ["run_started"]),
        (None, RunStatus.DONE, ["run_started", "run_finished"]),  # done between two looks
        (None, RunStatus.PAUSED, ["run_started", "run_paused"]),
        ("running", RunStatus.PAUSED, ["run_paused"]),
        ("paused", RunStatus.RUNNING, ["run_resumed"]),
        ("running", RunStatus.DONE, ["run_finished"]),
        ("paused", RunStatus.CANCELLED, ["run_finished"]),
    ],
)
def test_actions__each_change__the_lines_it_logs(
    previous: str | None, status: RunStatus, expected: list[str]
) -> None:
    assert actions(previous, status) == expected
