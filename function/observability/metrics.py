"""Prometheus metrics of the function, defined once here (see the README's metrics table).

Import this module only after :func:`function.observability.mode.prepare`: prometheus_client
picks single-process or multiprocess mode from ``PROMETHEUS_MULTIPROC_DIR`` when imported.

The request path calls a :class:`Recorder`'s methods, which add to plain Python numbers
(:mod:`function.observability.buffered`): no lock and no file write per request. A flush
moves them into the metrics with one increment per non-empty bucket or label set, before
every exposition this process serves and, in multiprocess mode, on a short timer
(:mod:`function.observability.flushes`: the staleness bound, and how a scrape waits for
the other workers' flushes). Drift lives in
:mod:`function.observability.drift`, the production-accuracy gauge (computed at scrape
time from the feedback counter) in :mod:`function.observability.accuracy`, the
multiprocess registry in
:mod:`function.observability.multiprocess`, the endpoint in
:mod:`function.observability.exposition`.
"""

from __future__ import annotations

import numpy as np
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics

from function.contract.manifest import Manifest
from function.contract.spec import SPEC
from function.observability import flushes
from function.observability.accuracy import ProductionAccuracy
from function.observability.buffered import PendingCounts, PendingDigits, PendingHistogram
from function.observability.drift import DriftWindow
from function.observability.flushes import FLUSH_LIMIT

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


class Recorder:
    """What the request path records, held in this process's plain numbers
    (:mod:`function.observability.buffered`) until a flush adds them to the metrics.

    A flush happens before every exposition this process serves, whenever ``flush_limit``
    predicted digits are pending, at exit, and, with a timer (multiprocess mode, or
    ``flush_seconds`` given), ``flush_seconds`` after the first record not flushed yet:
    see :mod:`function.observability.flushes`. Record and flush from one thread (the
    worker's event loop). Feedback and the model's gauges are written at once.
    """

    def __init__(self, flush_seconds: float | None = None, flush_limit: int = FLUSH_LIMIT) -> None:
        self._timer = flushes.flush_timer(self.flush, flush_seconds)
        self._flush_limit = flush_limit
        self._ones = np.ones(SPEC.input.features, np.float32)
        classes = range(SPEC.output.classes)
        # every (predicted, actual) pair exists from the start: increase() sees the first one
        self._feedback = [[FEEDBACK.labels(str(p), str(a)) for a in classes] for p in classes]
        self.drift: DriftWindow | None = None
        self.forget()
        flushes.register(self)

    def forget(self) -> None:
        """Nothing pending (at start, and in a forked child: what the parent recorded is
        the parent's to flush)."""
        self._requests = PendingCounts(REQUESTS)
        self._errors = PendingCounts(REQUEST_ERRORS)
        self._durations: dict[str, PendingHistogram] = {}
        self._inference = PendingHistogram(INFERENCE_DURATION)
        self._batch = PendingHistogram(BATCH_SIZE)
        self._confidence = PendingHistogram(CONFIDENCE)
        self._pixels = PendingHistogram(PIXEL_MEAN)
        self._digits = PendingDigits(PREDICTIONS, SPEC.output.classes)
        # one digit's values, appended as they come (binned at the flush)
        self._add_seconds = self._inference.values.append
        self._add_batch = self._batch.values.append
        self._add_confidence = self._confidence.values.append
        self._add_pixels = self._pixels.values.append
        self._scheduled = self._timer is None  # True: no timer to start

    def request(self, route: str, method: str, code: int, seconds: float) -> None:
        """One answered request (``route`` is a routing-table name, never a raw path)."""
        counts = self._requests.counts
        key = (route, method, code)
        counts[key] = counts.get(key, 0) + 1
        duration = self._durations.get(route)
        if duration is None:
            duration = self._durations[route] = PendingHistogram(REQUEST_DURATION.labels(route))
        pending = duration.values
        pending.append(seconds)
        if not self._scheduled:
            self._flush_soon()
        elif len(pending) >= self._flush_limit:  # requests that predict nothing (probes...)
            self.flush()

    def error(self, route: str, reason: str) -> None:
        """One request refused or failed, by a fixed reason (e.g. ``bad_json``); a refusal
        of the connection layer comes without a ``request``."""
        counts = self._errors.counts
        key = (route, reason)
        counts[key] = counts.get(key, 0) + 1
        if not self._scheduled:
            self._flush_soon()

    def _flush_soon(self) -> None:
        """The first record since the last flush starts the flush timer (``_scheduled`` is
        True whenever there is no timer)."""
        assert self._timer is not None
        self._scheduled = True
        self._timer.start()

    def inference(self, images: np.ndarray, probabilities: np.ndarray, seconds: float) -> None:
        """One inference call: its time, batch size, predictions, confidence, input drift."""
        self._add_seconds(seconds)
        n = len(probabilities)
        self._add_batch(n)
        pending = self._digits
        digits = pending.digits
        if n == 1:
            row = probabilities[0]
            digit = int(row.argmax())
            digits.append(digit)
            self._add_confidence(float(row[digit]))
            ones = self._ones
            self._add_pixels(float(images[0].dot(ones)) / len(ones))
        else:  # three fresh arrays, held until the flush bins them
            best = probabilities.argmax(axis=1)
            pending.extend(best)
            # the best digit's probability by index: max(axis=1) over 10 columns is ~4x slower
            self._confidence.observe_many(probabilities[np.arange(n), best])
            self._pixels.observe_many(images @ self._ones / len(self._ones))  # 4x mean(axis=1)
        if len(digits) + pending.batched >= self._flush_limit:  # len(pending), 1 call less
            self.flush()

    def flush(self) -> None:
        """Add everything recorded so far to the metrics and the drift window."""
        self._scheduled = self._timer is None
        self._requests.flush()
        self._errors.flush()
        for duration in self._durations.values():
            duration.flush()
        for histogram in (self._inference, self._batch, self._confidence, self._pixels):
            histogram.flush()
        digits = self._digits.flush()
        if digits is not None and self.drift is not None:
            self.drift.add(digits)  # its gauge is refreshed every 64 predictions, as ever
        if self._timer is not None:
            self._timer.flushed()

    def feedback(self, predicted: int, actual: int) -> None:
        """One feedback: the service predicted ``predicted``, the person meant ``actual``."""
        self._feedback[predicted][actual].inc()

    def model_loaded(self, manifest: Manifest, seconds: float, drift_window: int) -> None:
        """The verified model is in place: info, test accuracy, load time, ready, and the
        drift window."""
        MODEL_INFO.labels(
            manifest.version, manifest.served.sha256, manifest.arch, manifest.engine
        ).set(1)
        MODEL_TEST_ACCURACY.set(manifest.served_accuracy)
        MODEL_LOAD_SECONDS.set(seconds)
        self.drift = DriftWindow(manifest.class_prior, drift_window, DRIFT_PSI)
        MODEL_READY.set(1)

    def model_ready(self) -> None:
        """This process holds an open, verified model (a forked worker, once its own
        interpreter is open: one that cannot open it exits instead)."""
        MODEL_READY.set(1)
