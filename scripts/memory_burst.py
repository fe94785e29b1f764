"""The worker's resident memory after warm-up, during and after a hostile burst of large
images, and after ordinary traffic again (issue 20: "after the hostile suite, RSS within
120 MB and within 25% of its value after warm-up"). A measurement, not a test:

    MNIST_PATH=../shared/data/mnist.npz .venv/bin/python -m scripts.memory_burst \
        --model /path/to/models/<version> [--env MALLOC_ARENA_MAX=2 ...] [--json out.json]

One worker, metrics off. Warm-up: ordinary JSON digits and small PNGs. The bursts: TF
Serving requests of 64 large PNGs each (2048x2048, 16-bit grey, a stroke on a blank field:
a few KB each, decoded to 8 MB each), the heaviest legal image request; then the largest
JSON batch under the body limit (1,024 images). Then the warm-up traffic once more.
``--env`` passes allocator settings (glibc's ``MALLOC_*`` variables or ``GLIBC_TUNABLES``)
to compare them.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import requests
from PIL import Image

from function.contract.spec import SPEC
from scripts.local_stack import ROOT, child_env, start_function

log = logging.getLogger("memory_burst")
MB = 1024 * 1024
SIDE = 2048  # the largest side an image may have (function.inputs.images.MAX_PIXELS)
IMAGES = 64  # the most encoded images per request (MAX_ENCODED_IMAGES)


def large_png(seed: int) -> bytes:
    """A 16-bit 2048x2048 PNG: a bright random stroke on black (compresses to a few KB)."""
    rng = np.random.default_rng(seed)
    field = np.zeros((SIDE, SIDE), np.uint16)
    x0, y0 = rng.integers(400, 1200, size=2)
    field[y0 : y0 + 700, x0 : x0 + 120] = 60000
    out = io.BytesIO()
    Image.fromarray(field).save(out, format="PNG")
    return out.getvalue()


def small_png(pixels: np.ndarray) -> bytes:
    side = SPEC.input.height
    gray = (pixels.reshape(side, side) * 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(gray, mode="L").save(out, format="PNG")
    return out.getvalue()


def worker_rss(master: psutil.Process) -> float:
    """The worker's resident memory in MB (the master's only child with WORKERS=1)."""
    children = master.children(recursive=True)
    workers = [c for c in children if "python" in c.name() or "functions" in c.name()]
    return max(c.memory_info().rss for c in workers or children) / MB


class PeakSampler:
    """The highest worker RSS seen, sampled every 20 ms in a thread."""

    def __init__(self, master: psutil.Process) -> None:
        self.master = master
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, worker_rss(self.master))
            time.sleep(0.02)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def ordinary(session: requests.Session, url: str, digits: np.ndarray, rounds: int) -> None:
    """``rounds`` x (one JSON digit, a batch of 32, one small PNG)."""
    for i in range(rounds):
        digit = digits[i % len(digits)]
        for path, kwargs in (
            ("/predict", {"json": {"image": digit.tolist()}}),
            ("/predict", {"json": {"images": digits[:32].tolist()}}),
            (
                "/predict",
                {"data": small_png(digit), "headers": {"Content-Type": "image/png"}},
            ),
        ):
            answer = session.post(f"{url}{path}", timeout=30, **kwargs)
            answer.raise_for_status()


def image_body() -> bytes:
    """64 large PNGs in one TF Serving request (the heaviest image request)."""
    pngs = [base64.b64encode(large_png(seed)).decode() for seed in range(IMAGES)]
    return json.dumps({"instances": [{"b64": png} for png in pngs]}).encode()


def json_body(limit: int = 4 * MB) -> bytes:
    """The largest JSON batch under the body limit: 1,024 images of short numbers."""
    rng = np.random.default_rng(0)
    rows = rng.choice(["0", "1", "0.5", "0.25"], size=(1024, SPEC.input.features))
    body = ('{"instances": [' + ",".join("[" + ",".join(r) + "]" for r in rows) + "]}").encode()
    assert len(body) < limit, len(body)
    return body


def burst(url: str, body: bytes, requests_count: int, parallel: int) -> list[float]:
    """``requests_count`` TF Serving requests of ``body``, from ``parallel`` clients at
    once; their latencies (s)."""
    log.info("burst: %d requests of %.1f KB", requests_count, len(body) / 1024)
    latencies: list[float] = []
    refused: list[int] = []

    def client(count: int) -> None:
        with requests.Session() as session:
            for _ in range(count):
                started = time.perf_counter()
                answer = session.post(
                    f"{url}/v1/models/mnist:predict",
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=300,
                )
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    refused.append(answer.status_code)

    threads = [
        threading.Thread(target=client, args=(requests_count // parallel,)) for _ in range(parallel)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if refused:
        log.warning("burst answers other than 200: %s", sorted(set(refused)))
    return latencies


def measure(
    model: Path, env: dict[str, str], bursts: int, rounds: int, parallel: int
) -> dict[str, object]:
    raw = np.load(os.environ["MNIST_PATH"])["x_test"][:256]
    digits = SPEC.input.scale(raw)
    server = start_function(
        child_env(MODEL_URI=str(model), METRICS="false", WORKERS="1", **env),
        log_path=ROOT / ".run" / "memory_burst.log",
    )
    try:
        server.wait_ready(120)
        master = psutil.Process(server.process.pid)
        with requests.Session() as session:
            started = worker_rss(master)
            ordinary(session, server.url, digits, rounds)
            warm = worker_rss(master)
            bursts_after = {}
            with PeakSampler(master) as sampler:
                latencies = burst(server.url, image_body(), bursts, parallel)
                bursts_after["images"] = round(worker_rss(master), 1)
                latencies += burst(server.url, json_body(), bursts, parallel)
                bursts_after["json"] = round(worker_rss(master), 1)
            after_burst = worker_rss(master)
            time.sleep(1.0)
            ordinary(session, server.url, digits, rounds)
            final = worker_rss(master)
    finally:
        server.stop()
    return {
        "env": env,
        "bursts": {"requests": bursts, "parallel": parallel},
        "rss_mb": {
            "started": round(started, 1),
            "warm": round(warm, 1),
            "burst_peak": round(sampler.peak, 1),
            "after_each_burst": bursts_after,
            "after_burst": round(after_burst, 1),
            "after_traffic": round(final, 1),
        },
        "after_vs_warm": round(final / warm - 1, 3),
        "burst_seconds": {
            "median": round(float(np.median(latencies)), 3),
            "max": round(max(latencies), 3),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a published version dir")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    parser.add_argument("--bursts", type=int, default=20, help="large-image requests")
    parser.add_argument("--rounds", type=int, default=300, help="ordinary request rounds")
    parser.add_argument("--parallel", type=int, default=1, help="burst clients at once")
    parser.add_argument("--json", type=Path, help="write the result here too")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    env = dict(item.split("=", 1) for item in options.env)
    result = measure(options.model, env, options.bursts, options.rounds, options.parallel)
    text = json.dumps(result, indent=2)
    sys.stdout.write(text + "\n")
    if options.json:
        options.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
