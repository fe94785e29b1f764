"""The heaviest legal request leaves the worker answering (issue 20: "64 large images in
one TF Serving request took 11.4 s of the single worker's event loop; readiness and
liveness probes waited the same 11 s"). Images are priced from their headers against
MAX_REQUEST_PIXELS, and decoded in a thread pool beside the event loop; JSON numbers are
read by simdjson straight into one array (~20 ms of the event loop for 1,024 images)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import orjson
import pytest
import requests

from function.config import Settings
from function.inputs.image_headers import read_header
from function.inputs.images import image_to_pixels
from tests.function.heavy_images import (
    grey16_png,
    jpeg,
    slow_digit_pngs,
    stroke,
    tf_serving_body,
    with_repeated_scan,
)

TF_PREDICT = "/v1/models/mnist:predict"
PROBES = ("/v2/health/ready", "/v2/health/live")
PROBE_BOUND = 0.1  # seconds: every probe, while the heavy request runs
HEAVY_BOUND = 2.0  # seconds of wall time for the heaviest request (~0.25-0.6 s measured)
JSON_REPEATS = 5  # heaviest JSON batches in a row (~0.05-0.2 s each measured)
REFUSAL_BOUND = 0.5  # seconds: decoding the refused request would take over 2 s of CPU
DEFAULTS = Settings(model_uri="unused")
BUDGET = DEFAULTS.max_request_pixels


@contextmanager
def probing(url: str) -> Iterator[list[tuple[float, float, int]]]:
    """Readiness and liveness, polled in turn on their own connection until the block
    ends: (start, seconds, status) of each probe."""
    answers: list[tuple[float, float, int]] = []
    stop = threading.Event()

    def poll() -> None:
        with requests.Session() as session:
            for i in range(100_000):
                if stop.is_set():
                    return
                started = time.perf_counter()
                status = session.get(f"{url}{PROBES[i % 2]}", timeout=10).status_code
                answers.append((started, time.perf_counter() - started, status))
                time.sleep(0.005)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while len(answers) < 3 and time.monotonic() < deadline:  # the connection is open
        time.sleep(0.01)
    try:
        yield answers
    finally:
        stop.set()
        thread.join(15)


@pytest.fixture(scope="module")
def heaviest(mnist) -> tuple[list[bytes], bytes]:
    """64 digits as the slowest PNGs to decode, 256x256 each: exactly the pixel budget."""
    images = slow_digit_pngs(mnist.x_test[:64], 256)
    assert sum(read_header(image).price for image in images) == BUDGET
    return images, tf_serving_body(images)


def test_probes_answer_while_the_heaviest_legal_request_decodes(server, heaviest, reference):
    images, body = heaviest
    headers = {"Content-Type": "application/json"}
    with probing(server.url) as probes:
        started = time.perf_counter()
        answer = requests.post(f"{server.url}{TF_PREDICT}", data=body, headers=headers, timeout=30)
        elapsed = time.perf_counter() - started
        time.sleep(0.05)
    assert answer.status_code == 200, answer.text
    expected = reference(np.stack([image_to_pixels(image) for image in images]))
    np.testing.assert_allclose(answer.json()["predictions"], expected, atol=1e-5)
    assert elapsed < HEAVY_BOUND, f"the heaviest legal request took {elapsed:.2f} s"
    during = [p for p in probes if started <= p[0] <= started + elapsed]
    assert len(during) >= 3, f"{len(during)} probes while the request ran ({elapsed:.2f} s)"
    assert {status for _, _, status in probes} == {200}
    slowest = max(seconds for _, seconds, _ in probes)
    assert slowest < PROBE_BOUND, f"a probe took {slowest * 1000:.0f} ms"


def test_the_issues_request_is_refused_before_decoding(server, http):
    """64 16-bit 2048x2048 PNGs: 16x the budget, refused from the headers at once."""
    body = tf_serving_body([grey16_png(2048, 0)] * 64)
    started = time.perf_counter()
    answer = http.post(
        f"{server.url}{TF_PREDICT}",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    elapsed = time.perf_counter() - started
    assert answer.status_code == 413, answer.text
    assert "MAX_REQUEST_PIXELS" in answer.json()["error"]
    assert elapsed < REFUSAL_BOUND, f"the refusal took {elapsed:.2f} s"


def test_one_costly_jpeg_is_priced_on_the_predict_route(server, http):
    """A 2048x2048 progressive JPEG whose scan is repeated 80 times (~90 KB): each scan
    is a pass over the whole image; priced at 86 passes it is over the budget."""
    data = with_repeated_scan(jpeg(stroke(2048, 2048), progressive=True), 80)
    assert read_header(data).price > BUDGET
    answer = http.post(
        f"{server.url}/predict", data=data, headers={"Content-Type": "image/jpeg"}, timeout=30
    )
    assert answer.status_code == 413, answer.text
    assert "MAX_REQUEST_PIXELS" in answer.json()["error"]["message"]


def json_body(form: str, pixels: np.ndarray) -> tuple[str, bytes]:
    """(path, body) sending the float [N, 784] ``pixels`` as JSON numbers in ``form``:
    a protocol, and "28x28" for nested rows."""
    rows = pixels.reshape(-1, 28, 28).tolist() if form.endswith("28x28") else pixels.tolist()
    if form.startswith("tfserving"):
        return TF_PREDICT, orjson.dumps({"instances": rows})
    if form.startswith("predict"):
        return "/predict", orjson.dumps({"images": rows})
    tensor = {"name": "image", "datatype": "FP32", "shape": list(pixels.shape)}
    body = {"inputs": [{**tensor, "data": pixels.ravel().tolist()}]}
    return "/v2/models/mnist/infer", orjson.dumps(body)


def predictions(form: str, answer: dict) -> list:
    if form == "v2":
        return np.reshape(answer["outputs"][0]["data"], (-1, 10))
    return answer["probabilities"] if form.startswith("predict") else answer["predictions"]


@pytest.fixture(scope="module")
def heaviest_json(mnist) -> np.ndarray:
    """MAX_BATCH real digits, their pixels written with 4 decimals (~3.7 MB as JSON: the
    body limit allows little more)."""
    return mnist.x_test[: DEFAULTS.max_batch].astype(np.float64).round(4)


@pytest.mark.parametrize("form", ["tfserving", "tfserving 28x28", "predict", "predict 28x28", "v2"])
def test_probes_answer_while_the_heaviest_json_batch_is_read(
    server, heaviest_json, reference, form
):
    """The batch is sent JSON_REPEATS times in a row: each takes well under a second now,
    and the probes must be seen waiting on the worker while it reads them."""
    path, body = json_body(form, heaviest_json)
    assert 0.8 * DEFAULTS.max_body_bytes < len(body) <= DEFAULTS.max_body_bytes
    headers = {"Content-Type": "application/json"}
    with requests.Session() as session, probing(server.url) as probes:
        started = time.perf_counter()
        answers = [
            session.post(f"{server.url}{path}", data=body, headers=headers, timeout=30)
            for _ in range(JSON_REPEATS)
        ]
        elapsed = time.perf_counter() - started
        time.sleep(0.05)
    expected = reference(heaviest_json)
    for answer in answers:
        assert answer.status_code == 200, answer.text[:500]
        np.testing.assert_allclose(predictions(form, answer.json()), expected, atol=1e-5)
    assert elapsed < JSON_REPEATS * HEAVY_BOUND, f"{JSON_REPEATS} batches took {elapsed:.2f} s"
    during = [p for p in probes if started <= p[0] <= started + elapsed]
    assert len(during) >= 3, f"{len(during)} probes while the batches ran ({elapsed:.2f} s)"
    assert {status for _, _, status in probes} == {200}
    slowest = max(seconds for _, seconds, _ in probes)
    assert slowest < PROBE_BOUND, f"a probe took {slowest * 1000:.0f} ms"
