"""The measurements besides wrk: a Locust run, cold starts, and LiteRT alone (no HTTP)."""

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
for n in (1, 256):
    x = np.random.default_rng(0).random((n, SPEC.input.features), dtype=np.float32)
    model.predict(x)
    runs = 2000 if n == 1 else 200
    start = time.perf_counter()
    for _ in range(runs):
        model.predict(x)
    print(n, (time.perf_counter() - start) / runs)
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


def first_answers(
    command: Callable[[int], list[str]],
    env: dict[str, str],
    body: bytes,
    runs: int = COLD_START_RUNS,
) -> list[float]:
    """Seconds from process start to the first 200 from POST /predict, ``runs`` times."""
    times = []
    for _ in range(runs):
        port = free_port()
        start = time.perf_counter()
        server = ServerProcess(command(port), env, port)
        try:
            server.wait_ready(COLD_START_TIMEOUT_S, "/predict", "POST", body)
            times.append(round(time.perf_counter() - start, 3))
        finally:
            server.stop()
    return times


def inference_alone(tflite: Path) -> dict[int, float]:
    """Seconds per LiteRT call on CPU 0 for batches of 1 and 256: the model's own ceiling."""
    out = subprocess.run(
        ["taskset", "-c", SERVER_CPU, str(BIN / "python"), "-c", INFERENCE_PROBE, str(tflite)],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return {int(n): float(s) for n, s in (line.split() for line in out.splitlines())}
