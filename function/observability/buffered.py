"""Metric values held in plain Python numbers until a flush adds them to prometheus_client.

Each increment of a prometheus_client value takes a lock (and, in multiprocess mode, writes
an mmap file); the request path instead adds to the ints and floats here, and
:meth:`flush` moves what accumulated into the real metric with one increment per non-empty
bucket or label set. Counts are exact; a histogram's sum is the same sum, added in a
different order (equal up to float rounding). Not thread-safe: the owner records and
flushes from one thread (the worker's event loop).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class PendingHistogram:
    """Observations of one histogram (or one labelled child of it) not yet flushed.

    A value goes in the bucket ``Histogram.observe`` would put it in (the first upper
    bound >= value; prometheus_client keeps per-bucket counts non-cumulatively). Nothing is
    binned on the request path: single values are appended to :attr:`values` (the request
    path may hold its ``append``: the list is emptied in place), arrays to
    :attr:`batches`, and the flush bins them all with one numpy pass. (Binning a batch of
    256 as it came took ~15-20 µs of a V2 request in the server, ~7 in-process: after
    LiteRT, numpy's code runs with cold caches.)
    """

    __slots__ = ("_buckets", "_finite", "_sum", "batches", "bounds", "counts", "total", "values")

    def __init__(self, histogram: Any) -> None:
        self.bounds: list[float] = list(histogram._upper_bounds)  # the last one is +Inf
        self._finite = np.asarray(self.bounds[:-1])
        self._buckets = histogram._buckets
        self._sum = histogram._sum
        self.counts = [0] * len(self.bounds)
        self.total = 0.0
        self.values: list[float] = []
        self.batches: list[np.ndarray] = []

    def observe(self, value: float) -> None:
        """One observation (binned at the flush)."""
        self.values.append(value)

    def observe_many(self, values: np.ndarray) -> None:
        """Many observations at once (binned at the flush): ``values`` is held until then,
        so the caller hands over an array it will not change."""
        if values.size:
            self.batches.append(values)

    def _bin(self, values: np.ndarray) -> None:
        """Add ``values`` to the pending bucket counts and sum."""
        indices = np.searchsorted(self._finite, values, side="left")
        binned = np.bincount(indices, minlength=len(self.bounds))
        counts = self.counts
        for index in np.flatnonzero(binned).tolist():
            counts[index] += int(binned[index])
        self.total += float(values.sum())

    def flush(self) -> None:
        """Add the pending observations to the histogram; nothing stays pending."""
        values, batches = self.values, self.batches
        if values:
            batches.append(np.array(values, dtype=np.float64))
            values.clear()
        if batches:
            self._bin(np.concatenate(batches) if len(batches) > 1 else batches[0])
            batches.clear()
        counts = self.counts
        if not any(counts):
            return
        self.counts = [0] * len(counts)
        total, self.total = self.total, 0.0
        buckets = self._buckets
        for index, count in enumerate(counts):
            if count:
                buckets[index].inc(count)
        self._sum.inc(total)


class PendingCounts:
    """Increments of one labelled counter, keyed by label values, not yet flushed.

    The request path adds to :attr:`counts` directly (``counts[key] = counts.get(key, 0)
    + 1``); a key's values become the labels, through ``str``, at the first flush.
    """

    __slots__ = ("_children", "_counter", "counts")

    def __init__(self, counter: Any) -> None:
        self._counter = counter
        self._children: dict[tuple[object, ...], Any] = {}
        self.counts: dict[tuple[object, ...], int] = {}

    def flush(self) -> None:
        """Add the pending increments to the counter's children."""
        if not self.counts:
            return
        counts, self.counts = self.counts, {}
        children = self._children
        for key, count in counts.items():
            child = children.get(key)
            if child is None:
                child = children[key] = self._counter.labels(*(str(v) for v in key))
            child.inc(count)


class PendingDigits:
    """Predicted digits, in order, not yet flushed: the per-digit counter and the drift
    window take them at the flush (``flush`` returns them as one array). A single digit is
    appended to :attr:`digits`; a batch's array is held whole in :attr:`batches` (after
    the single digits before it, so the order stays the order of the predictions)."""

    __slots__ = ("_children", "batched", "batches", "digits")

    def __init__(self, counter: Any, classes: int) -> None:
        self._children = [counter.labels(digit=str(d)) for d in range(classes)]
        self.digits: list[int] = []
        self.batches: list[np.ndarray] = []
        self.batched = 0  # digits held in batches

    def __len__(self) -> int:
        return len(self.digits) + self.batched

    def extend(self, digits: np.ndarray) -> None:
        """A batch's digits (an integer array the caller will not change)."""
        if self.digits:
            self.batches.append(np.asarray(self.digits, dtype=np.intp))
            self.batched += len(self.digits)
            self.digits.clear()  # in place: the recorder may hold the list
        self.batches.append(digits)
        self.batched += len(digits)

    def flush(self) -> np.ndarray | None:
        """Count the pending digits in the counter; them, or None when there were none."""
        if not len(self):
            return None
        batches = self.batches
        if self.digits:
            batches.append(np.asarray(self.digits, dtype=np.intp))
        digits = batches[0] if len(batches) == 1 else np.concatenate(batches)
        self.digits, self.batches, self.batched = [], [], 0
        children = self._children
        for digit, count in enumerate(np.bincount(digits, minlength=len(children)).tolist()):
            if count:
                children[digit].inc(count)
        return digits
