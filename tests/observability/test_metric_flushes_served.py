"""Buffered metrics on a real server with two workers (multiprocess mode): a scrape taken
while both workers answer traffic holds every request answered before it began, and no
more than were sent; once the traffic stops, the count is exact."""

from __future__ import annotations

import threading
import time

import requests

from tests.observability.scrape import scrape, value
from tests.observability.test_feedback_metrics import by_process

CLIENTS = 4
SCRAPES = 5


class Traffic:
    """``CLIENTS`` threads posting one digit each, on a new connection each time (so the
    kernel spreads them over the workers), counting the answers they have read."""

    def __init__(self, url: str, body: dict) -> None:
        self.url, self.body = url, body
        self.answered = 0
        self.errors: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(CLIENTS)]

    def _client(self) -> None:
        while not self._stop.is_set():
            answer = requests.post(
                self.url, json=self.body, timeout=30, headers={"Connection": "close"}
            )
            with self._lock:
                if answer.status_code == 200:
                    self.answered += 1
                else:
                    self.errors.append(answer.status_code)

    def count(self) -> int:
        with self._lock:
            return self.answered

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def answered(samples) -> float:
    return value(samples, "digitrun_requests_total", route="predict", method="POST", code="200")


def test_a_scrape_under_load_holds_every_request_answered_before_it(start_server, mnist, tmp_path):
    directory = tmp_path / "prom"
    server = start_server(workers=2, PROMETHEUS_MULTIPROC_DIR=str(directory))
    metrics = f"{server.url}/metrics"
    checks = []
    with Traffic(f"{server.url}/predict", {"image": mnist.x_test[0].tolist()}) as traffic:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (
            len(checks) < SCRAPES or len(by_process(directory, "digitrun_predictions_total")) < 2
        ):
            time.sleep(0.2)
            before = traffic.count()  # these answers were read before the scrape began
            seen = answered(scrape(metrics))
            checks.append((before, seen, traffic.count() + CLIENTS))  # + one in flight each
    assert not traffic.errors
    assert len(checks) >= SCRAPES and all(before > 0 for before, _, _ in checks[-3:]), checks
    for before, seen, most in checks:
        assert before <= seen <= most, checks
    per_worker = by_process(directory, "digitrun_predictions_total")
    assert len(per_worker) == 2, per_worker  # both workers took traffic
    samples = scrape(metrics)  # the traffic has stopped: exact
    sent = traffic.count()
    assert answered(samples) == sent
    assert value(samples, "digitrun_request_duration_seconds_count", route="predict") == sent
    assert sum(by_process(directory, "digitrun_predictions_total").values()) == sent
