"""Prometheus metrics of the function, defined once here (see the README's metrics table).

Import this module only after :func:`function.observability.mode.prepare`: prometheus_client
picks single-process or multiprocess mode from ``PROMETHEUS_MULTIPROC_DIR`` when imported.

The request path calls a :class:`Recorder`'s methods: label children are resolved once and
cached, and a batch's per-image observations are binned with numpy and added per bucket, so
a request costs a handful of lock-protected increments, not one per image. Drift lives in
:mod:`function.observability.drift`, the production-accuracy gauge (computed at scrape
time from the feedback counter) in :mod:`function.observability.accuracy`, the
multiprocess registry in
:mod:`function.observability.multiprocess`, the endpoint in
:mod:`function.observability.exposition`.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

import numpy as np
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics

from function.contract.manifest import Manifest
from function.contract.spec import SPEC
from function.observability.accuracy import ProductionAccuracy
from function.observability.drift import DriftWindow

# The *_created series would double the series count and nothing here reads them.
disable_created_metrics()

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
MODEL_TEST_ACCURACY = Gauge(
    "digitrun_model_test_accuracy",
    "Test-set accuracy of the served model, from its manifest.",
    multiprocess_mode="livemax",
)
FEEDBACK = Counter(
    "digitrun_feedback",
    "Feedback on predictions (POST /feedback): the predicted and the actual digit.",
    ["predicted", "actual"],
)
# digitrun_production_accuracy, from FEEDBACK at scrape time (the multiprocess registry
# derives it from the summed counter: function.observability.multiprocess).
REGISTRY.register(ProductionAccuracy(FEEDBACK))


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


class Recorder:
    """What the request path records, with label children resolved once."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[str, Any] = {}
        self._errors: dict[tuple[str, str], Any] = {}
        classes = range(SPEC.output.classes)
        self._digits = [PREDICTIONS.labels(digit=str(d)) for d in classes]
        # every (predicted, actual) pair exists from the start: increase() sees the first one
        self._feedback = [[FEEDBACK.labels(str(p), str(a)) for a in classes] for p in classes]
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
        counts = np.bincount(digits, minlength=SPEC.output.classes)
        for digit in np.flatnonzero(counts):
            self._digits[digit].inc(int(counts[digit]))
        observe_many(CONFIDENCE, probabilities.max(axis=1))
        observe_many(PIXEL_MEAN, images.mean(axis=1))
        if self.drift is not None:
            self.drift.add(digits)

    def feedback(self, predicted: int, actual: int) -> None:
        """One feedback: the service predicted ``predicted``, the person meant ``actual``."""
        self._feedback[predicted][actual].inc()

    def model_loaded(self, manifest: Manifest, seconds: float, drift_window: int) -> None:
        """The verified model is in place: info, test accuracy, load time, ready, and the
        drift window."""
        MODEL_INFO.labels(
            manifest.version, manifest.served.sha256, manifest.arch, manifest.engine
        ).set(1)
        MODEL_TEST_ACCURACY.set(manifest.metrics.test_accuracy)
        MODEL_LOAD_SECONDS.set(seconds)
        self.drift = DriftWindow(manifest.class_prior, drift_window, DRIFT_PSI)
        MODEL_READY.set(1)

    def model_ready(self) -> None:
        """This process holds an open, verified model (a forked worker, once its own
        interpreter is open: one that cannot open it exits instead)."""
        MODEL_READY.set(1)
