"""/metrics in Prometheus' text format: the database's figures read at scrape time, and what
every serve process measured (app/process_metrics.py).

The delivery counters are the sums of the daily rollups, so with `serve --workers N` any one
scrape equals `campaign status`, whichever process answers it. Labels name bots, campaigns,
variants and workers: never a chat id, a token or anything a recipient chose.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bulletin.app import metrics, process_metrics
from bulletin.app.api_views import Pool

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OUTCOMES = ("sent", "failed", "skipped", "uncertain")


class Snapshot(Collector):
    """One scrape's figures, already read, as metric families."""

    def __init__(self, figures: dict[str, list[dict[str, Any]]]) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        yield self._by_outcome(
            "bulletin_deliveries",
            "Deliveries settled, by bot and outcome",
            ["bot"],
            self.figures["deliveries_by_bot"],
        )
        yield self._by_outcome(
            "bulletin_campaign_deliveries",
            "Deliveries settled, by bot, campaign, variant and outcome",
            ["bot", "campaign", "variant"],
            self.figures["deliveries_by_campaign"],
        )
        yield from self._per_bot()
        leases = GaugeMetricFamily(
            "bulletin_leases", "Bots whose live lease a worker holds", labels=["worker"]
        )
        for row in self.figures["leases_by_worker"]:
            leases.add_metric([row["worker"]], row["leases"])
        yield leases

    @staticmethod
    def _by_outcome(
        name: str, documentation: str, labels: list[str], rows: Iterable[dict[str, Any]]
    ) -> Metric:
        family = CounterMetricFamily(name, documentation, labels=[*labels, "outcome"])
        for row in rows:
            for outcome in OUTCOMES:
                family.add_metric([*(row[label] for label in labels), outcome], row[outcome])
        return family

    def _per_bot(self) -> Iterator[Metric]:
        rate_limited = CounterMetricFamily(
            "bulletin_rate_limited", "429 answers from the Bot API, by bot", labels=["bot"]
        )
        opted_out = CounterMetricFamily(
            "bulletin_opt_outs", "Chats that unsubscribed or blocked the bot", labels=["bot"]
        )
        for row in self.figures["deliveries_by_bot"]:
            rate_limited.add_metric([row["bot"]], row["rate_limited"])
            opted_out.add_metric([row["bot"]], row["opted_out"])
        pending = GaugeMetricFamily(
            "bulletin_pending_deliveries",
            "Deliveries not settled yet (pending or being sent), by bot",
            labels=["bot"],
        )
        for row in self.figures["pending_by_bot"]:
            pending.add_metric([row["bot"]], row["pending"] + row["sending"])
        yield from (rate_limited, opted_out, pending)


async def scrape(pool: Pool) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot(await metrics.snapshot(pool)))
    process_metrics.add_to(registry)  # every serve process's sends, 429s, pace, updates
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)
