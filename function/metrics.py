"""Prometheus metrics of the function, defined once here (see the README's metrics table).

Import this module only after ``function.metrics_mode.prepare()``: prometheus_client picks
single-process or multiprocess mode from ``PROMETHEUS_MULTIPROC_DIR`` when it is imported.

The request path calls ``RECORDER``'s methods: label children are resolved once and cached,
and a batch's per-image observations are binned with numpy and added per bucket, so a
request costs a handful of lock-protected increments, not one per image.
"""

from __future__ import annotations

import math
import os
from bisect import bisect_left
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

from function.artifact import SERVED_FILE
from function.context import Context

# The *_created series would double the series count and nothing here reads them.
disable_created_metrics()

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
# generate_latest() writes the 0.0.4 text format; prometheus_client 0.26's
# CONTENT_TYPE_LATEST names 1.0.0, which Prometheus 2.x servers do not know.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# One digit takes ~100 µs in the handler: start at 50 µs (the client's defaults start at 5 ms).
LATENCY_BUCKETS = (
    5e-5,
    1e-4,
    2e-4,
    5e-4,
    1e-3,
    2e-3,
    5e-3,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
# One LiteRT call on one digit is ~35 µs; 1,024 digits take a few ms.
INFERENCE_BUCKETS = (
    1e-5,
    2e-5,
    5e-5,
    1e-4,
    2e-4,
    5e-4,
    1e-3,
    2e-3,
    5e-3,
    0.01,
    0.025,
    0.05,
    0.1,
    0.5,
    1.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
CONFIDENCE_BUCKETS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0)
# MNIST's mean pixel value is ~0.13 (sd ~0.04 across images): fine steps around it.
PIXEL_MEAN_BUCKETS = (
    0.025,
    0.05,
    0.075,
    0.1,
    0.125,
    0.15,
    0.175,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
)

REQUESTS = Counter("digitrun_requests", "HTTP requests answered.", ["route", "method", "code"])
REQUEST_DURATION = Histogram(
    "digitrun_request_duration_seconds",
    "Time from the request reaching the handler to its response.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
REQUEST_ERRORS = Counter(
    "digitrun_request_errors",
    "Requests answered with an error, by route and reason.",
    ["route", "reason"],
)
INFERENCE_DURATION = Histogram(
    "digitrun_inference_duration_seconds",
    "Time of one LiteRT inference call (one request's batch).",
    buckets=INFERENCE_BUCKETS,
)
BATCH_SIZE = Histogram("digitrun_batch_size", "Images per inference call.", buckets=BATCH_BUCKETS)
PREDICTIONS = Counter("digitrun_predictions", "Predicted digits.", ["digit"])
CONFIDENCE = Histogram(
    "digitrun_prediction_confidence",
    "Probability of the predicted digit.",
    buckets=CONFIDENCE_BUCKETS,
)
PIXEL_MEAN = Histogram(
    "digitrun_input_pixel_mean",
    "Mean pixel value (0..1) of each input image: input drift.",
    buckets=PIXEL_MEAN_BUCKETS,
)
DRIFT_PSI = Gauge(
    "digitrun_prediction_drift_psi",
    "Population stability index of the recent predicted-digit distribution "
    "against the training class prior (per worker window; max across workers).",
    multiprocess_mode="livemax",
)
MODEL_INFO = Gauge(
    "digitrun_model_info",
    "The model version being served (value 1).",
    ["version", "sha256", "arch", "runtime"],
    multiprocess_mode="livemax",
)
MODEL_LOAD_SECONDS = Gauge(
    "digitrun_model_load_seconds",
    "Seconds to download, verify and load the model.",
    multiprocess_mode="livemax",
)
MODEL_READY = Gauge(
    "digitrun_model_ready",
    "1 when a verified model is loaded and serving (min across workers).",
    multiprocess_mode="livemin",
)


def observe_one(histogram: Any, value: float) -> None:
    """``histogram.observe(value)`` for the hot path: the bucket found by bisection in C
    instead of a Python loop over the bounds (prometheus_client stores per-bucket counts
    non-cumulatively; tests/observability checks the equivalence)."""
    histogram._buckets[bisect_left(histogram._upper_bounds, value)].inc(1)
    histogram._sum.inc(value)


def observe_many(histogram: Any, values: np.ndarray) -> None:
    """Observe many values at once: one increment per non-empty bucket, one for the sum.

    Equivalent to ``for v in values: histogram.observe(v)``.
    """
    if values.size == 0:
        return
    bounds = histogram._upper_bounds
    indices = np.searchsorted(np.asarray(bounds[:-1]), values, side="left")
    counts = np.bincount(indices, minlength=len(bounds))
    for index in np.flatnonzero(counts):
        histogram._buckets[index].inc(int(counts[index]))
    histogram._sum.inc(float(values.sum()))


def psi(observed: Sequence[float], expected: Sequence[float], epsilon: float = 1e-4) -> float:
    """Population stability index Σ (o - e) ln(o / e) of two distributions (shares)."""
    total = 0.0
    for o, e in zip(observed, expected, strict=True):
        o, e = max(o, epsilon), max(e, epsilon)
        total += (o - e) * math.log(o / e)
    return total


class DriftWindow:
    """The last ``size`` predicted digits, with their counts kept up to date.

    The PSI gauge is refreshed every ``every`` predictions, and once when the window first
    holds ``min_samples``: its cost stays off the per-request path.
    """

    def __init__(
        self, prior: Sequence[float], size: int, every: int = 64, min_samples: int = 100
    ) -> None:
        self.prior = [float(p) for p in prior]
        self.size = size
        self.every = every
        self.min_samples = min(min_samples, size)
        self.ring = np.zeros(size, dtype=np.int8)
        self.counts = np.zeros(10, dtype=np.int64)
        self.filled = 0
        self.position = 0
        self.pending = 0
        self.primed = False

    def add_one(self, digit: int) -> None:
        """Record one predicted digit (the oldest leaves a full window)."""
        position = self.position
        ring = self.ring
        if self.filled == self.size:
            self.counts[int(ring[position])] -= 1
        else:
            self.filled += 1
        ring[position] = digit
        self.counts[digit] += 1
        self.position = position + 1 if position + 1 < self.size else 0
        self.pending += 1
        if self.pending >= self.every or not self.primed:
            self.refresh()

    def add(self, digits: np.ndarray) -> None:
        """Record predicted digits, in order, with one numpy update."""
        digits = digits[-self.size :]
        k = len(digits)
        if k == 0:
            return
        positions = (self.position + np.arange(k)) % self.size
        # The window fills from slot 0 on, so the slots overwritten are the last ones.
        overwritten = max(0, self.filled + k - self.size)
        self.counts -= np.bincount(self.ring[positions[k - overwritten :]], minlength=10)
        self.counts += np.bincount(digits, minlength=10)
        self.ring[positions] = digits
        self.position = (self.position + k) % self.size
        self.filled = min(self.size, self.filled + k)
        self.pending += k
        if self.pending >= self.every or not self.primed:
            self.refresh()

    def refresh(self) -> None:
        """Set the gauge from the window once it holds enough predictions."""
        if self.filled < self.min_samples:
            return
        self.pending = 0
        self.primed = True
        DRIFT_PSI.set(self.value())

    def value(self) -> float:
        """PSI of the window's distribution against the prior."""
        n = max(self.filled, 1)
        return psi([c / n for c in self.counts.tolist()], self.prior)


class Recorder:
    """What the request path records, with label children resolved once."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[str, Any] = {}
        self._errors: dict[tuple[str, str], Any] = {}
        self._digits = [PREDICTIONS.labels(digit=str(d)) for d in range(10)]
        self.drift: DriftWindow | None = None

    def request(self, route: str, method: str, code: int, seconds: float) -> None:
        """One answered request (``route`` is a routing-table name, never a raw path)."""
        key = (route, method, str(code))
        counter = self._requests.get(key)
        if counter is None:
            counter = self._requests[key] = REQUESTS.labels(route, method, str(code))
        counter.inc()
        duration = self._durations.get(route)
        if duration is None:
            duration = self._durations[route] = REQUEST_DURATION.labels(route)
        observe_one(duration, seconds)

    def error(self, route: str, reason: str) -> None:
        """One request refused or failed, by a fixed reason (e.g. ``bad_json``)."""
        key = (route, reason)
        counter = self._errors.get(key)
        if counter is None:
            counter = self._errors[key] = REQUEST_ERRORS.labels(route, reason)
        counter.inc()

    def inference(self, images: np.ndarray, probabilities: np.ndarray, seconds: float) -> None:
        """One inference call: its time, batch size, predictions, confidence, input drift."""
        observe_one(INFERENCE_DURATION, seconds)
        n = len(probabilities)
        observe_one(BATCH_SIZE, n)
        if n == 1:
            row = probabilities[0]
            digit = int(row.argmax())
            self._digits[digit].inc()
            observe_one(CONFIDENCE, float(row[digit]))
            observe_one(PIXEL_MEAN, float(images.sum()) / images.shape[1])
            if self.drift is not None:
                self.drift.add_one(digit)
            return
        digits = probabilities.argmax(axis=1)
        counts = np.bincount(digits, minlength=10)
        for digit in np.flatnonzero(counts):
            self._digits[digit].inc(int(counts[digit]))
        observe_many(CONFIDENCE, probabilities.max(axis=1))
        observe_many(PIXEL_MEAN, images.mean(axis=1))
        if self.drift is not None:
            self.drift.add(digits)

    def model_loaded(self, manifest: dict[str, Any], seconds: float, drift_window: int) -> None:
        """The verified model is in place: info, load time, ready, and the drift window."""
        entry = manifest["files"][SERVED_FILE]
        MODEL_INFO.labels(
            manifest["version"],
            entry["sha256"],
            manifest["arch"],
            manifest.get("runtime", {}).get("engine", "litert"),
        ).set(1)
        MODEL_LOAD_SECONDS.set(seconds)
        self.drift = DriftWindow(manifest["class_prior"], drift_window)
        MODEL_READY.set(1)

    def model_ready(self, ready: bool) -> None:
        """This process's readiness (a worker sets it after opening its interpreter)."""
        MODEL_READY.set(1 if ready else 0)


RECORDER = Recorder()


class WorkerProcessCollector:
    """Process metrics (CPU, memory, fds) of every live worker, labelled by ``pid``.

    In multiprocess mode the scrape is answered by one process; the pids of the others are
    read from the names of the files they write in ``PROMETHEUS_MULTIPROC_DIR``.
    """

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def collect(self) -> Any:
        forget_dead_processes(str(self.directory))
        pids = sorted(
            {
                int(p.stem.rsplit("_", 1)[1])
                for p in self.directory.glob("*.db")
                if p.stem.rsplit("_", 1)[-1].isdigit()
            }
            | {os.getpid()}
        )
        merged: dict[str, Any] = {}
        for pid in pids:
            if not Path(f"/proc/{pid}").exists():
                continue
            for family in ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect():
                samples = [s._replace(labels={**s.labels, "pid": str(pid)}) for s in family.samples]
                target = merged.setdefault(family.name, family)
                if target is family:
                    family.samples = samples
                else:
                    target.samples.extend(samples)
        yield from merged.values()


def forget_dead_processes(directory: str) -> None:
    """Drop the live-gauge files of processes that are gone (a worker gunicorn replaced):
    prometheus_client's ``live*`` gauge modes rely on this (counters keep their counts)."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            multiprocess.mark_process_dead(int(pid), directory)


def multiprocess_registry() -> CollectorRegistry:
    """A registry adding up every process's files, plus each worker's process metrics.

    The process collector runs first on each scrape and drops dead processes' live-gauge
    files, so the multiprocess collector after it sees only live workers' gauges.
    """
    registry = CollectorRegistry()
    registry.register(WorkerProcessCollector(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    multiprocess.MultiProcessCollector(registry)
    return registry


def exposition() -> bytes:
    """The text exposition of every metric (all workers' in multiprocess mode)."""
    return generate_latest(multiprocess_registry() if MULTIPROCESS else REGISTRY)


class MetricsApi:
    """``GET /metrics`` on the main port."""

    def __init__(self, ctx: Context) -> None:
        self._respond = ctx.respond

    async def metrics(self, request: Request) -> Response:
        return self._respond.typed(exposition(), CONTENT_TYPE.encode())
