"""Metrics off the hot path: the Recorder holds what it records in plain numbers and a flush
moves it into prometheus_client. Values are exact after every flush, nothing is lost or
counted twice across flushes, forks or exit, and a scrape in multiprocess mode waits for
every flush under way (the flush ledger).

In-process tests use this process's (single-process) metrics; the multiprocess ones run a
small Python child with ``PROMETHEUS_MULTIPROC_DIR`` set and read its files the way the
scrape does (prometheus_client's MultiProcessCollector).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from function.contract.spec import SPEC
from function.observability import exposition, flushes, metrics
from function.observability.buffered import PendingHistogram
from function.observability.drift import DriftWindow
from function.observability.flushes import FlushLedger, read_state, wait_for_flushes
from function.observability.metrics import CONFIDENCE_BUCKETS, Recorder
from scripts.local_stack import ROOT

SEVEN = np.eye(SPEC.output.classes, dtype=np.float32)[[7]]  # a one-digit answer: 7, p=1


def image(level: float, n: int = 1) -> np.ndarray:
    return np.full((n, SPEC.input.features), level, np.float32)


def buckets_and_sum(registry: CollectorRegistry) -> list[str]:
    return [line for line in generate_latest(registry).decode().splitlines() if line[0] != "#"]


def test_pending_observations_equal_observing_one_by_one_across_flushes():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.random(300), CONFIDENCE_BUCKETS, [0.0, 1e-9, 7.0]])
    plain, buffered = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("h", "h", buckets=CONFIDENCE_BUCKETS, registry=plain)
    target = Histogram("h", "h", buckets=CONFIDENCE_BUCKETS, registry=buffered)
    for v in values:
        direct.observe(float(v))
    pending = PendingHistogram(target)
    for chunk in np.array_split(values, 7):  # singles and batches, a flush after each chunk
        for v in chunk[:3]:
            pending.observe(float(v))
        pending.observe_many(chunk[3:])
        pending.flush()
    pending.flush()  # nothing pending: adds nothing
    lines, expected = buckets_and_sum(buffered), buckets_and_sum(plain)
    assert [x for x in lines if "_sum" not in x] == [x for x in expected if "_sum" not in x]
    assert buffered.get_sample_value("h_sum") == pytest.approx(float(values.sum()))
    assert pending.counts == [0] * len(pending.counts) and pending.total == 0


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


WATCHED = (
    ("digitrun_requests_total", {"route": "flush_test", "method": "POST", "code": "200"}),
    ("digitrun_requests_total", {"route": "flush_test", "method": "POST", "code": "400"}),
    ("digitrun_request_errors_total", {"route": "flush_test", "reason": "invalid_input"}),
    ("digitrun_request_duration_seconds_count", {"route": "flush_test"}),
    ("digitrun_request_duration_seconds_bucket", {"route": "flush_test", "le": "0.001"}),
    ("digitrun_predictions_total", {"digit": "7"}),
    ("digitrun_batch_size_count", {}),
    ("digitrun_batch_size_sum", {}),
    ("digitrun_prediction_confidence_count", {}),
    ("digitrun_input_pixel_mean_count", {}),
    ("digitrun_input_pixel_mean_sum", {}),
    ("digitrun_inference_duration_seconds_count", {}),
)


def snapshot() -> list[float]:
    return [sample(name, **labels) for name, labels in WATCHED]


def record_known_requests(recorder: Recorder) -> list[float]:
    """Two one-digit requests, a batch of five and a refused one: the deltas they make."""
    for _ in range(2):
        recorder.inference(image(0.25), SEVEN, 3e-5)
        recorder.request("flush_test", "POST", 200, 2e-4)
    recorder.inference(image(0.5, 5), np.repeat(SEVEN, 5, axis=0), 1e-4)
    recorder.request("flush_test", "POST", 200, 4e-4)
    recorder.error("flush_test", "invalid_input")
    recorder.request("flush_test", "POST", 400, 5e-5)
    return [3, 1, 1, 4, 4, 7, 3, 7, 7, 7, 0.25 * 2 + 0.5 * 5, 3]


def test_values_are_exact_after_each_flush_and_nothing_is_lost_between():
    recorder = Recorder(flush_seconds=None)  # this process: single-process mode, no timer
    recorder.drift = DriftWindow([0.1] * 10, 1000, metrics.DRIFT_PSI)
    start = snapshot()
    expected = record_known_requests(recorder)
    assert snapshot() == start  # recorded in plain numbers: no metric touched yet
    flushes.flush_all()
    first = snapshot()
    assert [a - b for a, b in zip(first, start, strict=True)] == pytest.approx(expected)
    assert recorder.drift.counts[7] == 7 and recorder.drift.filled == 7
    record_known_requests(recorder)
    exposition.exposition()  # serving an exposition flushes first
    second = snapshot()
    assert [a - b for a, b in zip(second, first, strict=True)] == pytest.approx(expected)
    flushes.flush_all()  # nothing pending: nothing added twice
    assert snapshot() == second
    assert recorder.drift.counts[7] == 14


def test_pending_predictions_are_bounded_without_a_scrape():
    recorder = Recorder(flush_seconds=None, flush_limit=8)
    before = sample("digitrun_predictions_total", digit="7")
    for _ in range(7):
        recorder.inference(image(0.1), SEVEN, 3e-5)
    assert sample("digitrun_predictions_total", digit="7") == before
    recorder.inference(image(0.1), SEVEN, 3e-5)  # the eighth: flushed on the spot
    assert sample("digitrun_predictions_total", digit="7") == before + 8
    assert recorder._digits.digits == []


def test_pending_requests_are_bounded_without_a_scrape():
    """Requests that predict nothing (health probes) add no digits: the bound counts them too."""
    recorder = Recorder(flush_seconds=None, flush_limit=8)
    labels = {"route": "probe_test", "method": "GET", "code": "200"}
    before = sample("digitrun_requests_total", **labels)
    for _ in range(7):
        recorder.request("probe_test", "GET", 200, 1e-5)
    assert sample("digitrun_requests_total", **labels) == before
    recorder.request("probe_test", "GET", 200, 1e-5)  # the eighth: flushed on the spot
    assert sample("digitrun_requests_total", **labels) == before + 8
    assert sample("digitrun_request_duration_seconds_count", route="probe_test") == 8


def answers(*digits: int) -> np.ndarray:
    return np.eye(SPEC.output.classes, dtype=np.float32)[list(digits)]


def test_batches_are_held_whole_and_reach_the_drift_window_in_order():
    recorder = Recorder(flush_seconds=None, flush_limit=10)
    recorder.drift = DriftWindow([0.1] * 10, 100, metrics.DRIFT_PSI)
    before = snapshot()
    recorder.inference(image(0.1), answers(7), 3e-5)
    recorder.inference(image(0.2, 5), answers(1, 2, 3, 4, 5), 1e-4)
    recorder.inference(image(0.3), answers(0), 3e-5)
    assert snapshot() == before and len(recorder._digits) == 7  # held, nothing binned
    recorder.inference(image(0.4, 3), answers(6, 8, 9), 1e-4)  # the tenth digit: flushed
    assert recorder.drift.ring[:10].tolist() == [7, 1, 2, 3, 4, 5, 0, 6, 8, 9]
    assert recorder.drift.filled == 10 and len(recorder._digits) == 0
    assert sample("digitrun_predictions_total", digit="7") == before[5] + 1
    pixel_sum = sample("digitrun_input_pixel_mean_sum") - before[10]
    assert pixel_sum == pytest.approx(0.1 + 0.2 * 5 + 0.3 + 0.4 * 3)
    assert sample("digitrun_prediction_confidence_count") - before[8] == 10


def test_a_timer_flushes_a_burst_once_soon_after_its_first_record():
    async def burst() -> tuple[float, float, float]:
        recorder = Recorder(flush_seconds=0.05)
        before = sample("digitrun_requests_total", route="timer_test", method="GET", code="200")
        for _ in range(100):
            recorder.request("timer_test", "GET", 200, 1e-4)
        pending = sample("digitrun_requests_total", route="timer_test", method="GET", code="200")
        deadline = time.monotonic() + 10
        while recorder._requests.counts and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        after = sample("digitrun_requests_total", route="timer_test", method="GET", code="200")
        return before, pending, after

    before, pending, after = asyncio.run(burst())
    assert pending == before  # still buffered right after the burst
    assert after == before + 100  # the timer flushed it, once, whole


def test_a_scrape_waits_for_a_started_cycle_until_it_is_flushed(tmp_path):
    ledger = FlushLedger(str(tmp_path), os.getpid())  # this (live) process's ledger
    assert wait_for_flushes(str(tmp_path), timeout=5)  # nothing started: no wait
    ledger.start()
    started = time.monotonic()
    assert not wait_for_flushes(str(tmp_path), timeout=0.2)  # never flushed: gives up
    assert time.monotonic() - started >= 0.2
    timer = threading.Timer(0.1, ledger.flushed)
    timer.start()
    assert wait_for_flushes(str(tmp_path), timeout=30)
    assert read_state(ledger.path) == (1, 1)  # it returned once the cycle was flushed
    timer.join()
    ledger.start()  # the next cycle: the event loop's wait sees it too
    threading.Timer(0.1, ledger.flushed).start()
    assert asyncio.run(flushes.flushes_done(str(tmp_path), timeout=30))
    assert read_state(ledger.path) == (2, 2)
    ledger.close()


def test_a_dead_process_ledger_is_dropped_not_waited_for(tmp_path):
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **RUN)
    ledger = FlushLedger(str(tmp_path), int(child.stdout))
    ledger.start()  # started, never flushed, and its process is gone
    started = time.monotonic()
    assert wait_for_flushes(str(tmp_path), timeout=30)
    assert time.monotonic() - started < 5
    assert not ledger.path.exists()


RUN = {"capture_output": True, "text": True, "timeout": 120, "cwd": ROOT, "check": True}

# A worker in miniature: records on a running event loop, says so, and waits for a line on
# stdin before it returns (and exits, as a gunicorn worker does, through SystemExit).
CHILD = """
import asyncio, sys
import numpy as np
from function.contract.spec import SPEC
from function.observability import metrics

async def main():
    seconds = None if sys.argv[1] == "default" else float(sys.argv[1])
    recorder = metrics.Recorder(flush_seconds=seconds)
    seven = np.eye(SPEC.output.classes, dtype=np.float32)[[7]]
    for _ in range(3):
        recorder.inference(np.full((1, SPEC.input.features), 0.25, np.float32), seven, 3e-5)
        recorder.request("predict", "POST", 200, 2e-4)
    recorder.error("predict", "invalid_input")
    recorder.request("predict", "POST", 400, 1e-4)
    print("recorded", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    sys.exit(0)

asyncio.run(main())
"""


def files_say(directory: Path) -> dict[tuple[str, frozenset], float]:
    """What a scrape of ``directory`` adds up (counters and histograms)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in registry.collect()
        for s in family.samples
    }


def check_child_records(values: dict) -> None:
    def get(name: str, **labels: str) -> float:
        return values.get((name, frozenset(labels.items())), 0.0)

    assert get("digitrun_requests_total", route="predict", method="POST", code="200") == 3
    assert get("digitrun_requests_total", route="predict", method="POST", code="400") == 1
    assert get("digitrun_request_errors_total", route="predict", reason="invalid_input") == 1
    assert get("digitrun_request_duration_seconds_count", route="predict") == 4
    assert get("digitrun_predictions_total", digit="7") == 3
    assert get("digitrun_batch_size_count") == 3
    assert get("digitrun_input_pixel_mean_sum") == pytest.approx(0.75)


class Child:
    """The miniature worker, in multiprocess mode on ``directory``."""

    def __init__(self, directory: Path, flush_seconds: str) -> None:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, flush_seconds],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "recorded"

    def finish(self) -> int:
        self.process.stdin.write("\n")
        self.process.stdin.close()
        return self.process.wait(60)


@pytest.fixture
def children():
    started: list[Child] = []
    yield started
    for child in started:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait(10)


def test_a_scrape_after_the_wait_holds_every_record_of_a_live_worker(tmp_path, children):
    children.append(child := Child(tmp_path, "2"))  # its timer flushes in 2 s
    (ledger,) = tmp_path.glob("flush_*.ledger")
    assert read_state(ledger) == (1, 0)  # recorded, not in the files yet
    assert wait_for_flushes(str(tmp_path), timeout=30)  # as a scrape does, then read:
    check_child_records(files_say(tmp_path))
    assert read_state(ledger) == (1, 1)
    assert child.finish() == 0
    check_child_records(files_say(tmp_path))  # the exit added nothing twice


def test_multiprocess_mode_flushes_on_its_own_within_the_flush_bound(tmp_path, children):
    children.append(Child(tmp_path, "default"))  # no flush_seconds: FLUSH_SECONDS' timer
    deadline = time.monotonic() + 30
    while not files_say(tmp_path).get(("digitrun_batch_size_count", frozenset())):
        assert time.monotonic() < deadline, "never flushed"
        time.sleep(flushes.FLUSH_SECONDS)
    check_child_records(files_say(tmp_path))  # one flush held every record


def test_exit_flushes_what_the_timer_had_not_yet(tmp_path, children):
    children.append(child := Child(tmp_path, "3600"))  # a timer that never fires here
    (ledger,) = tmp_path.glob("flush_*.ledger")
    assert read_state(ledger) == (1, 0)  # a cycle started, not flushed
    pending = files_say(tmp_path)
    assert pending.get(("digitrun_predictions_total", frozenset({("digit", "7")}))) == 0
    assert child.finish() == 0
    check_child_records(files_say(tmp_path))
    assert read_state(ledger) == (1, 1)


FORK = """
import os, sys
import numpy as np
from function.contract.spec import SPEC
from function.observability import metrics

recorder = metrics.Recorder(flush_seconds=3600)
seven = np.eye(SPEC.output.classes, dtype=np.float32)[[7]]
for _ in range(2):  # inference alone starts no timer: pending in the parent
    recorder.inference(np.full((1, SPEC.input.features), 0.25, np.float32), seven, 3e-5)
pid = os.fork()
if pid == 0:
    sys.exit(0)  # the child exits normally: its atexit flush must not count the parent's
_, status = os.waitpid(pid, 0)
assert status == 0, status
"""


def test_a_forked_child_does_not_flush_its_parents_records(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", FORK], env=env, **RUN)
    values = files_say(tmp_path)
    assert values[("digitrun_predictions_total", frozenset({("digit", "7")}))] == 2
    assert values[("digitrun_batch_size_count", frozenset())] == 2
