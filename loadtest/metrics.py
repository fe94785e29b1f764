"""The service's own view: ``digitrun_request_duration_seconds`` (the handler's time per
request, by route) read from ``/metrics`` before and after a run; the difference is what
the run added. Quantiles are estimated like PromQL's ``histogram_quantile``: linear within
the bucket that holds the rank."""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

HISTOGRAM = "digitrun_request_duration_seconds"
CPU = "process_cpu_seconds_total"  # the server processes' CPU time (a series per process)


@dataclass(frozen=True)
class Histogram:
    """One route's cumulative buckets ``(le, count)`` (le ascending, +Inf last), count, sum."""

    buckets: tuple[tuple[float, float], ...]
    count: float
    total: float

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def minus(self, before: Histogram | None) -> Histogram:
        if before is None:
            return self
        old = dict(before.buckets)
        buckets = tuple((le, n - old.get(le, 0.0)) for le, n in self.buckets)
        return Histogram(buckets, self.count - before.count, self.total - before.total)

    def quantile(self, q: float) -> float | None:
        """Seconds under which a share ``q`` of the requests took, or None (no requests)."""
        if self.count <= 0:
            return None
        rank = q * self.count
        lower, below = 0.0, 0.0
        for le, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(le):
                    return lower
                inside = cumulative - below
                share = (rank - below) / inside if inside else 1.0
                return lower + (le - lower) * share
            lower, below = le, cumulative
        return lower


@dataclass(frozen=True)
class Scrape:
    """One reading of ``/metrics``: the histogram by route, and the server's CPU seconds."""

    histograms: dict[str, Histogram]
    cpu_seconds: float | None


def parse(text: str) -> Scrape:
    """The request-duration histogram of each route and the CPU seconds of every server
    process in a Prometheus exposition."""
    buckets: dict[str, dict[float, float]] = {}
    counts: dict[str, float] = {}
    sums: dict[str, float] = {}
    cpu = None
    for family in text_string_to_metric_families(text):
        found = [sample.value for sample in family.samples if sample.name == CPU]
        cpu = sum(found) if found else cpu
        if family.name != HISTOGRAM:
            continue
        for sample in family.samples:
            route = sample.labels.get("route", "")
            if sample.name.endswith("_bucket"):
                buckets.setdefault(route, {})[float(sample.labels["le"])] = sample.value
            elif sample.name.endswith("_count"):
                counts[route] = sample.value
            elif sample.name.endswith("_sum"):
                sums[route] = sample.value
    histograms = {
        route: Histogram(tuple(sorted(found.items())), counts.get(route, 0.0), sums.get(route, 0.0))
        for route, found in buckets.items()
    }
    return Scrape(histograms, cpu)


def scrape(url: str, headers: Mapping[str, str] | None = None) -> Scrape | None:
    """The histograms at ``url`` (``.../metrics``); None when it cannot be read."""
    if not url.startswith(("http://", "https://")):
        return None
    request = urllib.request.Request(url, headers=dict(headers or {}))  # noqa: S310 (http)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return parse(response.read().decode())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def difference(before: Scrape | None, after: Scrape | None) -> dict[str, Histogram] | None:
    """What happened between two scrapes, by route (None unless both were read)."""
    if before is None or after is None:
        return None
    old = before.histograms
    return {route: hist.minus(old.get(route)) for route, hist in after.histograms.items()}


def cpu_used(before: Scrape | None, after: Scrape | None) -> float | None:
    """The server's CPU seconds between two scrapes (None unless both have them)."""
    if before is None or after is None or None in (before.cpu_seconds, after.cpu_seconds):
        return None
    return after.cpu_seconds - before.cpu_seconds


def combined(histograms: Iterable[Histogram]) -> Histogram | None:
    """Several routes' histograms as one (same buckets)."""
    parts = list(histograms)
    if not parts:
        return None
    les = [le for le, _ in parts[0].buckets]
    buckets = tuple((le, sum(dict(h.buckets).get(le, 0.0) for h in parts)) for le in les)
    return Histogram(buckets, sum(h.count for h in parts), sum(h.total for h in parts))
