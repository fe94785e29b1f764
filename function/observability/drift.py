"""Prediction drift: the population stability index of the recent predicted digits
against the training class prior (the manifest's ``class_prior``), per worker."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Settable(Protocol):
    """Where the drift value goes: a Prometheus gauge, or anything with ``set``."""

    def set(self, value: float) -> None: ...


def psi(observed: Sequence[float], expected: Sequence[float], epsilon: float = 1e-4) -> float:
    """Population stability index Σ (o - e) ln(o / e) of two distributions (shares)."""
    total = 0.0
    for o, e in zip(observed, expected, strict=True):
        o, e = max(o, epsilon), max(e, epsilon)
        total += (o - e) * math.log(o / e)
    return total


class DriftWindow:
    """The last ``size`` predicted digits, with their counts kept up to date.

    ``gauge`` (anything with ``set(value)``) is set to the PSI every ``every`` predictions,
    and once when the window first holds ``min_samples``: its cost stays off the
    per-request path.
    """

    def __init__(
        self,
        prior: Sequence[float],
        size: int,
        gauge: Settable,
        every: int = 64,
        min_samples: int = 100,
    ) -> None:
        self.prior = [float(p) for p in prior]
        self.gauge = gauge
        self.size = size
        self.every = every
        self.min_samples = min(min_samples, size)
        self.ring = np.zeros(size, dtype=np.int8)
        self.counts = np.zeros(len(self.prior), dtype=np.int64)
        self.filled = 0
        self.position = 0
        self.pending = 0
        self.primed = False

    def add(self, digits: np.ndarray) -> None:
        """Record predicted digits, in order, with one numpy update."""
        digits = digits[-self.size :]
        k = len(digits)
        if k == 0:
            return
        positions = (self.position + np.arange(k)) % self.size
        # The window fills from slot 0 on, so the slots overwritten are the last ones.
        overwritten = max(0, self.filled + k - self.size)
        self.counts -= np.bincount(
            self.ring[positions[k - overwritten :]], minlength=len(self.prior)
        )
        self.counts += np.bincount(digits, minlength=len(self.prior))
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
        self.gauge.set(self.value())

    def value(self) -> float:
        """PSI of the window's distribution against the prior."""
        n = max(self.filled, 1)
        return psi([c / n for c in self.counts.tolist()], self.prior)
