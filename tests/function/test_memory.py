"""The worker's resident memory after the heaviest legal requests (issue 20: "after the
hostile suite, RSS within 120 MB and within 25% of its value after warm-up").

A server of its own (no other test's traffic), one worker. Warm-up: ordinary traffic. Then
rounds of the heaviest requests the limits allow: 1,024-image JSON batches on /predict and
TF Serving, a 1,024-image V2 binary tensor, 2048x2048 16-bit PNGs (the largest image),
and bad requests (a 4 MB body that is not JSON, a truncated PNG, a batch over MAX_BATCH).
Then ordinary traffic again: the worker must have handed the freed memory back
(function/runtime/memory.py)."""

from __future__ import annotations

import asyncio
import io
import mmap
import resource
import time

import numpy as np
import psutil
import pytest
import requests
from PIL import Image

from client.v2 import binary_request
from function.contract.spec import SPEC
from function.runtime.memory import HeapTrimmer, fix_mmap_threshold, glibc_trim, populate
from scripts.local_stack import ServerProcess

MB = 1024 * 1024
LIMIT_MB = 120.0
LIMIT_RATIO = 1.25
BATCH = 1024  # MAX_BATCH
SIDE = 2048  # the largest image side (function.inputs.images.MAX_PIXELS)
ROUNDS = 3
TIMEOUT = 60


def worker_rss_mb(server: ServerProcess) -> float:
    """The one worker's resident memory, MB (WORKERS=1: the master's only child)."""
    children = psutil.Process(server.process.pid).children(recursive=True)
    assert children, "the server has no worker"
    return max(child.memory_info().rss for child in children) / MB


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def large_png(seed: int) -> bytes:
    """A 16-bit 2048x2048 PNG: a bright stroke on black (a few KB, 8 MB decoded)."""
    field = np.zeros((SIDE, SIDE), np.uint16)
    x0 = 300 + 100 * seed
    field[500:1300, x0 : x0 + 150] = 60000
    return png(field)


def ordinary(session: requests.Session, url: str, digits: np.ndarray, rounds: int) -> None:
    """``rounds`` x (one JSON digit, a batch of 32, one small PNG), all answered 200."""
    side = SPEC.input.height
    for i in range(rounds):
        digit = digits[i % len(digits)]
        small = png((digit.reshape(side, side) * SPEC.input.raw_max).astype(np.uint8))
        for kwargs in (
            {"json": {"image": digit.tolist()}},
            {"json": {"images": digits[:32].tolist()}},
            {"data": small, "headers": {"Content-Type": "image/png"}},
        ):
            answer = session.post(f"{url}/predict", timeout=TIMEOUT, **kwargs)
            assert answer.status_code == 200, answer.text[:200]


def heavy_requests(digits: np.ndarray) -> list[tuple[str, bytes, dict[str, str], int]]:
    """(path, body, headers, expected status) of the heaviest legal and bad requests."""
    json_headers = {"Content-Type": "application/json"}
    rows = np.resize(digits.astype(np.float64), (BATCH, SPEC.input.features)).round(2)
    batch = ",".join("[" + ",".join(map(str, row)) + "]" for row in rows.tolist())
    binary, binary_headers = binary_request(rows.astype(np.float32))
    pngs = [large_png(seed) for seed in range(4)]
    truncated = pngs[0][: len(pngs[0]) // 2]
    not_json = b'{"instances": [' + b"0.5," * (MB - 8)
    too_many = "[" + ",".join(["[0.5]"] * (BATCH + 1)) + "]"
    png_headers = {"Content-Type": "image/png"}
    return [
        ("/predict", f'{{"images": [{batch}]}}'.encode(), json_headers, 200),
        ("/v1/models/mnist:predict", f'{{"instances": [{batch}]}}'.encode(), json_headers, 200),
        ("/v2/models/mnist/infer", binary, binary_headers, 200),
        *(("/predict", body, png_headers, 200) for body in pngs),
        ("/predict", truncated, png_headers, 400),
        ("/v1/models/mnist:predict", not_json, json_headers, 400),
        ("/predict", f'{{"images": {too_many}}}'.encode(), json_headers, 413),
    ]


@pytest.fixture(scope="module")
def memory_server(start_server) -> ServerProcess:
    return start_server()


def test_rss_returns_after_the_heaviest_requests(memory_server, digits) -> None:
    url = memory_server.url
    images = digits[0]
    heavy = heavy_requests(images)
    with requests.Session() as session:
        ordinary(session, url, images, 200)
        warm = worker_rss_mb(memory_server)
        peak = warm
        for _ in range(ROUNDS):
            for path, body, headers, status in heavy:
                answer = session.post(f"{url}{path}", data=body, headers=headers, timeout=TIMEOUT)
                assert answer.status_code == status, (path, answer.status_code, answer.text[:200])
                peak = max(peak, worker_rss_mb(memory_server))
        time.sleep(1.5)  # a trim deferred by the rate limit runs within a second
        ordinary(session, url, images, 50)
        after = worker_rss_mb(memory_server)
    figures = f"warm-up {warm:.1f} MB, peak {peak:.1f} MB, after {after:.1f} MB"
    assert after <= LIMIT_MB, figures
    assert after <= LIMIT_RATIO * warm, figures


def own_rss_mb() -> float:
    return psutil.Process().memory_info().rss / MB


def test_trim_returns_freed_heap_memory_to_the_system() -> None:
    trim = glibc_trim()
    assert trim is not None, "this machine's C library is glibc"
    blocks = [bytes(1000 + i % 7) for i in range(60_000)]  # ~60 MB of heap blocks
    pin = bytes(1000)  # allocated last, at the heap's top: free() alone cannot shrink it
    del blocks
    before = own_rss_mb()
    trim()
    after = own_rss_mb()
    assert before - after > 30, f"{before:.1f} MB -> {after:.1f} MB"
    del pin


def test_the_mmap_threshold_can_be_fixed() -> None:
    assert fix_mmap_threshold()


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def faults_writing(array: np.ndarray) -> int:
    before = minor_faults()
    array[:] = 1
    return minor_faults() - before


def test_a_populated_large_array_is_written_without_page_faults() -> None:
    size = 3 * MB  # a mapping of its own (numpy asks for huge pages from 4 MiB)
    pages = size // mmap.PAGESIZE
    # Fresh mappings, as glibc gives a large array: whether a heap block's pages are there
    # already depends on what this process did before.
    with mmap.mmap(-1, size) as plain, mmap.mmap(-1, size) as fresh:
        assert faults_writing(np.frombuffer(plain, np.uint8)) >= pages  # the count sees them
        array = np.frombuffer(fresh, np.uint8)
        populate(array)
        assert faults_writing(array) <= 8
        del array


def test_only_the_arrays_own_pages_are_faulted_in() -> None:
    size = 3 * MB
    pages = size // mmap.PAGESIZE
    with mmap.mmap(-1, size) as fresh:
        array = np.frombuffer(fresh, np.uint8)
        populate(array[: size // 2])
        assert faults_writing(array[: size // 2]) <= 8
        assert faults_writing(array[size // 2 :]) >= pages // 2
        del array


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counting_trimmer(interval: float = 1.0) -> tuple[HeapTrimmer, Clock]:
    clock = Clock()
    real = glibc_trim()
    return HeapTrimmer(real, interval_seconds=interval, clock=clock), clock


def test_small_fast_requests_never_trim() -> None:
    trimmer, _ = counting_trimmer()
    for _ in range(1000):
        trimmer.after_request(body_bytes=4000, seconds=0.001)
    assert trimmer.trims == 0


def test_large_or_slow_requests_trim_at_most_once_per_interval() -> None:
    async def scenario() -> HeapTrimmer:
        trimmer, clock = counting_trimmer(interval=0.2)
        trimmer.after_request(body_bytes=3 * MB, seconds=0.01)  # large body: at once
        assert trimmer.trims == 1
        clock.now += 0.05
        for _ in range(50):  # a burst inside the interval: one trim, deferred
            trimmer.after_request(body_bytes=100, seconds=0.3)  # slow (a big image)
        assert trimmer.trims == 1
        await asyncio.sleep(0.4)  # the deferred trim ran at the interval's end
        assert trimmer.trims == 2
        clock.now += 1.0
        trimmer.after_request(body_bytes=trimmer.large_bytes, seconds=0.0)
        return trimmer

    assert asyncio.run(scenario()).trims == 3


def test_without_glibc_nothing_is_trimmed() -> None:
    trimmer = HeapTrimmer(None)
    assert not trimmer.enabled
    trimmer.after_request(body_bytes=10 * MB, seconds=5.0)
    trimmer.trim()
    assert trimmer.trims == 0
