"""The metrics' own arithmetic: batch observation, PSI and the drift window."""

from __future__ import annotations

import math

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

from function.observability.buffered import PendingHistogram
from function.observability.drift import DriftWindow, psi
from function.observability.metrics import CONFIDENCE_BUCKETS


def exposition_lines(registry: CollectorRegistry) -> list[str]:
    return [
        line
        for line in generate_latest(registry).decode().splitlines()
        if not line.startswith("#") and "_sum" not in line
    ]


def observe_many(histogram: Histogram, values: np.ndarray) -> None:
    """The request path's batch observation: binned with numpy, then flushed."""
    pending = PendingHistogram(histogram)
    pending.observe_many(values)
    pending.flush()


def observe_one(histogram: Histogram, value: float) -> None:
    """The request path's single observation: appended, binned at the flush."""
    pending = PendingHistogram(histogram)
    pending.observe(value)
    pending.flush()


def test_observe_many_equals_observing_one_by_one():
    values = np.concatenate(
        [
            np.random.default_rng(0).random(500),
            np.asarray(CONFIDENCE_BUCKETS),  # exactly on every boundary
            [0.0, 1e-9, 0.2000001],
        ]
    )
    one, many = CollectorRegistry(), CollectorRegistry()
    looped = Histogram("h", "h", buckets=CONFIDENCE_BUCKETS, registry=one)
    batched = Histogram("h", "h", buckets=CONFIDENCE_BUCKETS, registry=many)
    for v in values:
        looped.observe(float(v))
    observe_many(batched, values)
    assert exposition_lines(one) == exposition_lines(many)
    assert many.get_sample_value("h_sum") == pytest.approx(float(values.sum()))


def test_observe_one_equals_observe():
    values = [*np.random.default_rng(1).random(200).tolist(), *CONFIDENCE_BUCKETS, 0.0, 7.0]
    plain, fast = CollectorRegistry(), CollectorRegistry()
    a = Histogram("h", "h", buckets=CONFIDENCE_BUCKETS, registry=plain)
    b = Histogram("h", "h", buckets=CONFIDENCE_BUCKETS, registry=fast)
    for v in values:
        a.observe(v)
        observe_one(b, v)
    assert exposition_lines(plain) == exposition_lines(fast)
    assert fast.get_sample_value("h_sum") == pytest.approx(sum(values))


def test_psi():
    uniform = [0.1] * 10
    assert psi(uniform, uniform) == 0
    shifted = [0.2, 0.0] + [0.1] * 8
    expected = (0.2 - 0.1) * math.log(0.2 / 0.1) + (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    assert psi(shifted, uniform) == pytest.approx(expected)
    assert psi([1.0] + [0.0] * 9, uniform) > 0.2


@pytest.fixture
def gauge():
    """A drift gauge of its own (not the service's global one)."""
    return Gauge("drift_psi", "PSI under test", registry=CollectorRegistry())


def test_window_counts_only_the_last_predictions(gauge):
    window = DriftWindow([0.1] * 10, size=5, gauge=gauge, every=1, min_samples=1)
    for digit in (1, 2, 3, 4, 5, 6, 7):
        window.add(np.array([digit]))
    assert window.counts.tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 0, 0]
    window.add(np.array([9, 9]))
    assert window.counts.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 0, 2]
    assert gauge._value.get() == pytest.approx(window.value())  # the gauge it was given


@pytest.mark.parametrize("size", [7, 100, 1000])
def test_batch_updates_equal_single_updates(size, gauge):
    digits = np.random.default_rng(size).integers(0, 10, 3000)
    single = DriftWindow([0.1] * 10, size, gauge)
    batched = DriftWindow([0.1] * 10, size, gauge)
    for d in digits.tolist():
        single.add(np.array([d]))
    for start in range(0, 3000, 37):  # ragged batches that wrap around the ring
        batched.add(digits[start : start + 37])
    assert single.counts.tolist() == batched.counts.tolist()
    assert batched.counts.sum() == min(size, 3000)
    assert batched.value() == pytest.approx(single.value())


def test_gauge_waits_for_enough_samples(monkeypatch, gauge):
    window = DriftWindow([0.1] * 10, size=1000, gauge=gauge, every=64, min_samples=100)
    refreshed = []
    monkeypatch.setattr(window, "value", lambda: refreshed.append(window.filled) or 0.0)
    for _ in range(99):
        window.add(np.array([7]))
    assert refreshed == []
    window.add(np.array([7]))
    assert refreshed == [100]  # primed once at min_samples...
    for _ in range(63):
        window.add(np.array([7]))
    assert refreshed == [100]
    window.add(np.array([7]))
    assert refreshed == [100, 164]  # ...then every 64 predictions
