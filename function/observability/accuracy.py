"""``digitrun_production_accuracy``: the share of feedback whose actual digit is the
predicted one, computed at scrape time from the ``digitrun_feedback_total`` counter.

Computed, never stored, so it is right in both of prometheus_client's modes: in
single-process mode :class:`ProductionAccuracy` reads the live counter (it is registered
in the default registry next to it); in multiprocess mode :class:`WithProductionAccuracy`
wraps the collector that adds up every process's files and derives the gauge from the
summed counter as it passes. Without feedback there is no sample (never NaN).

Import only after :func:`function.observability.mode.prepare` chose the mode.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

NAME = "digitrun_production_accuracy"
HELP = (
    "Share of feedback (POST /feedback) whose actual digit is the predicted one, "
    "over all feedback this instance received (all workers)."
)


def accuracy(feedback: Metric) -> GaugeMetricFamily | None:
    """The gauge for the feedback counter's family; None while it counts nothing."""
    correct = total = 0.0
    for sample in feedback.samples:
        if not sample.name.endswith("_total"):
            continue
        total += sample.value
        if sample.labels["predicted"] == sample.labels["actual"]:
            correct += sample.value
    if total <= 0:
        return None
    return GaugeMetricFamily(NAME, HELP, value=correct / total)


class ProductionAccuracy:
    """Single-process mode: the gauge from a live counter (registered beside it)."""

    def __init__(self, counter: Any) -> None:
        self._counter = counter

    def describe(self) -> list[Metric]:
        return [GaugeMetricFamily(NAME, HELP)]

    def collect(self) -> Iterator[Metric]:
        for family in self._counter.collect():
            gauge = accuracy(family)
            if gauge is not None:
                yield gauge


class WithProductionAccuracy:
    """Multiprocess mode: ``inner``'s families, plus the gauge derived from the summed
    feedback family named ``feedback_name`` (``inner`` is read once per scrape)."""

    def __init__(self, inner: Any, feedback_name: str) -> None:
        self._inner = inner
        self._feedback_name = feedback_name

    def collect(self) -> Iterable[Metric]:
        for family in self._inner.collect():
            yield family
            if family.name == self._feedback_name:
                gauge = accuracy(family)
                if gauge is not None:
                    yield gauge
