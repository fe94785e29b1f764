"""The measurements besides wrk: a Locust run, cold starts, LiteRT alone and the floors under
a request's own work (no HTTP), the last two probes run on the server's core."""

from __future__ import annotations

import csv
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bench.servers import LOAD_CPU, SERVER_CPU
from scripts.local_stack import BIN, ROOT, ServerProcess, child_env, free_port

LOCUST_USERS = 16
COLD_START_RUNS = 3
COLD_START_TIMEOUT_S = 30
INFERENCE_PROBE = """
import sys, time, numpy as np
from pathlib import Path
from function.contract.spec import SPEC
from function.runtime.litert import LiteRTModel
model = LiteRTModel(Path(sys.argv[1]))
seconds = float(sys.argv[2])
for n in map(int, sys.argv[3:]):
    x = np.random.default_rng(0).random((n, SPEC.input.features), dtype=np.float32)
    model.predict(x)
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        model.predict(x)
        calls += 1
    print(n, calls * n / elapsed)
"""


def locust_run(url: str, mnist_path: str, seconds: int, out: Path) -> dict[str, float]:
    """Locust, 16 users of /predict, on CPU 1; its aggregated statistics."""
    prefix = out / "locust"
    # One-digit /predict only: the row compares with the wrk rows (the load test's mix is
    # `make loadtest`'s business).
    env = {
        **os.environ,
        "MNIST_PATH": mnist_path,
        "LOCUST_MAX_P99_MS": "1000",
        "LOADTEST_MIX": "predict",
    }
    users = str(LOCUST_USERS)
    subprocess.run(
        [
            "taskset",
            "-c",
            LOAD_CPU,
            str(BIN / "locust"),
            "-f",
            "loadtest/locustfile.py",
            "--headless",
            "-u",
            users,
            "-r",
            users,
            "-t",
            f"{seconds}s",
            "--host",
            url,
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    with (out / "locust_stats.csv").open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    total = rows["Aggregated"]
    return {
        "rps": float(total["Requests/s"]),
        "p50": float(total["50%"]),
        "p95": float(total["95%"]),
        "p99": float(total["99%"]),
        "failures": int(total["Failure Count"]),
        "requests": int(total["Request Count"]),
    }


Command = Callable[[int], list[str]]


def first_answer(command: Command, env: dict[str, str], body: bytes) -> float:
    """Seconds from process start (on the server's core) to the first 200 from POST /predict."""
    port = free_port()
    start = time.perf_counter()
    server = ServerProcess(command(port), env, port, cpu=SERVER_CPU)
    try:
        server.wait_ready(COLD_START_TIMEOUT_S, "/predict", "POST", body)
        return round(time.perf_counter() - start, 3)
    finally:
        server.stop()


def first_answers(
    starts: dict[str, tuple[Command, dict[str, str], bytes]], runs: int = COLD_START_RUNS
) -> dict[str, list[float]]:
    """Cold starts of every labelled server, interleaved (one of each per round, so a drift
    of the machine's speed hits them alike), ``runs`` rounds."""
    times: dict[str, list[float]] = {label: [] for label in starts}
    for _ in range(runs):
        for label, (command, env, body) in starts.items():
            times[label].append(first_answer(command, env, body))
    return times


def inference_alone(
    tflite: Path, batches: tuple[int, ...], seconds: float = 1.0
) -> dict[int, float]:
    """Images/s of LiteRT alone (no HTTP) on the server's core, a tight loop of ``seconds``
    per batch size: the ceiling for any server of that file on this core."""
    argv = ["-c", INFERENCE_PROBE, str(tflite), str(seconds), *map(str, batches)]
    out = on_server_core(argv, timeout=60 + seconds * len(batches) * 3)
    return {int(n): float(rate) for n, rate in (line.split() for line in out.splitlines())}


def floors_alone(
    bodies: dict[str, tuple[Path, tuple[str, ...]]], seconds: float = 1.0
) -> dict[str, dict[str, float]]:
    """µs per body of the floors (:mod:`bench.floors`) each workload names beside its body
    (``{workload: (body, ("receive", "parse"))}``), the sender on the load core:
    ``{workload: {floor: µs}}``."""
    asked = [
        (workload, what, body) for workload, (body, floors) in bodies.items() for what in floors
    ]
    argv = ["-m", "bench.floors", str(seconds), LOAD_CPU, *(f"{w}:{b}" for _, w, b in asked)]
    out = on_server_core(argv, timeout=60 + 2 * seconds * len(asked))
    found: dict[str, dict[str, float]] = {}
    for (workload, what, _), us in zip(asked, out.split(), strict=True):
        found.setdefault(workload, {})[what] = float(us)
    return found


def on_server_core(argv: list[str], timeout: float) -> str:
    """What the serving environment's ``python *argv`` prints, run on the server's core."""
    return subprocess.run(
        ["taskset", "-c", SERVER_CPU, str(BIN / "python"), *argv],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    ).stdout
