"""Accuracy under load: each request kind's correct / checked digits, and how many requests
each Locust worker sent. Workers send their counts with their stats reports (every few
seconds and at the end); the master adds them up."""

from __future__ import annotations

from typing import Any

import numpy as np

REPORT_KEY = "digitrun"


class Tally:
    """Counts in one process; on the master, the sums of every worker's reports."""

    def __init__(self) -> None:
        self.kinds: dict[str, list[int]] = {}
        self.workers: dict[str, int] = {}
        self._sent = 0
        self._unreported: dict[str, list[int]] = {}

    def sent(self) -> None:
        self._sent += 1

    def add(self, kind: str, predicted: np.ndarray, labels: np.ndarray) -> None:
        correct = int(np.count_nonzero(np.asarray(predicted) == np.asarray(labels)))
        for table in (self.kinds, self._unreported):
            counts = table.setdefault(kind, [0, 0])
            counts[0] += correct
            counts[1] += len(labels)

    def report(self, data: dict[str, Any]) -> None:
        """Worker side: put what was counted since the last report into ``data``."""
        data[REPORT_KEY] = {"kinds": self._unreported, "sent": self._sent}
        self._unreported, self._sent = {}, 0

    def merge(self, client_id: str, data: dict[str, Any]) -> None:
        """Master side: add one worker's report (Locust's ``worker_report`` event)."""
        part = data.get(REPORT_KEY)
        if not part:
            return
        self.workers[client_id] = self.workers.get(client_id, 0) + int(part["sent"])
        for kind, (correct, checked) in part["kinds"].items():
            counts = self.kinds.setdefault(kind, [0, 0])
            counts[0] += correct
            counts[1] += checked

    def accuracy(self) -> dict[str, tuple[int, int]]:
        return {kind: (c[0], c[1]) for kind, c in self.kinds.items()}

    def local_requests(self) -> int:
        """Requests sent by this process (not yet reported, for a worker)."""
        return self._sent
