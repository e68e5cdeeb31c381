"""One clock for what is due: the database's. Workers send durations, never instants."""

from __future__ import annotations

import time
from collections.abc import Sequence

from bulletin import models


def answer_ages_s(results: Sequence[models.DeliveryResult | models.OutboxResult]) -> list[object]:
    """How long ago Telegram answered each result, by this process's monotonic clock.

    The SQL subtracts it from clock_timestamp(): a worker whose wall clock is off by minutes
    still sets due_at and sent_at on the clock the claim compares them with.
    """
    now_s = time.monotonic()
    return [max(0.0, now_s - result.answered_s) for result in results]
