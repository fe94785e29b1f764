"""Large bodies the server writes straight into one buffer (function.web.body.BodySink): a
V2 binary tensor of 256 digits (803 KB) however it is cut up on the wire, pipelined behind
another, stopping midway or abandoned. Raw sockets on real servers; every wait is bounded
and every timing bound leaves seconds of margin (a busy 2-core machine)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import requests

from client.v2 import binary_request, read_outputs
from function.contract.spec import SPEC
from tests.function.raw_http import check_service_answer, connect, read_answer

pytestmark = pytest.mark.slow

INFER = "/v2/models/mnist/infer"
BATCH = 256
TIMEOUT = 1.0  # BODY_TIMEOUT_SECONDS of the slow_body_server
MARGIN = 4.0
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def slow_body_server(start_server):
    return start_server(BODY_TIMEOUT_SECONDS=str(TIMEOUT))


@pytest.fixture(scope="module")
def batch(mnist) -> np.ndarray:
    return mnist.x_test[:BATCH].astype(np.float32)


def raw_request(images: np.ndarray) -> tuple[bytes, bytes]:
    """The head and the body of a V2 binary request for ``images``."""
    body, headers = binary_request(images, outputs=[{"name": SPEC.output.name}])
    lines = [f"POST {INFER} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return "\r\n".join([*lines, "", ""]).encode("latin-1"), body


def probabilities(answer) -> np.ndarray:
    assert answer is not None and answer.status == 200, answer
    return read_outputs(answer.body, answer.headers)[SPEC.output.name]


def test_a_tensor_cut_into_pieces_gets_the_answer_it_gets_whole(server, batch, reference):
    head, body = raw_request(batch)
    answers = []
    for pieces in (1, 3, 29):
        with connect(server.port) as sock, sock.makefile("rb") as reader:
            sock.sendall(head + body[:100])
            step = -(-(len(body) - 100) // pieces)
            for start in range(100, len(body), step):
                time.sleep(0.02)
                sock.sendall(body[start : start + step])
            answers.append(read_answer(reader))
    whole = probabilities(answers[0])
    np.testing.assert_allclose(whole, reference(batch), atol=1e-6)
    for answer in answers[1:]:
        assert answer.body == answers[0].body


def test_pipelined_tensors_are_each_answered_in_order(server, batch, reference):
    first_head, first = raw_request(batch)
    second_head, second = raw_request(batch[::-1].copy())
    with connect(server.port) as sock, sock.makefile("rb") as reader:
        sock.sendall(first_head + first + second_head + second)
        answers = [read_answer(reader), read_answer(reader)]
    np.testing.assert_allclose(probabilities(answers[0]), reference(batch), atol=1e-6)
    np.testing.assert_allclose(probabilities(answers[1]), reference(batch[::-1]), atol=1e-6)


def test_a_tensor_that_stops_midway_gets_408_and_close(slow_body_server, manifest, batch):
    head, body = raw_request(batch)
    with connect(slow_body_server.port) as sock, sock.makefile("rb") as reader:
        sock.sendall(head + body[: len(body) // 2])
        started = time.monotonic()
        answer = read_answer(reader)
        seconds = time.monotonic() - started
    message = check_service_answer(answer, 408, "plain", manifest["version"])
    assert "BODY_TIMEOUT_SECONDS" in message, message
    assert answer.closed and answer.headers["connection"] == "close", answer.headers
    assert TIMEOUT * 0.9 <= seconds <= TIMEOUT + MARGIN, seconds


def test_a_client_leaving_midway_leaves_the_worker_serving(server, batch, reference):
    head, body = raw_request(batch)
    for _ in range(3):
        with connect(server.port) as sock:
            sock.sendall(head + body[: len(body) // 3])
            time.sleep(0.05)
    with connect(server.port) as sock, sock.makefile("rb") as reader:
        sock.sendall(head + body)
        answer = read_answer(reader)
    np.testing.assert_allclose(probabilities(answer), reference(batch), atol=1e-6)
    assert requests.get(f"{server.url}/v2/health/live", timeout=10).status_code == 200


def send_in_pieces(port: int, path: str, body: bytes, pieces: int = 5):
    """``body`` POSTed as JSON, its bytes sent in ``pieces`` after the head (the server then
    streams it into one buffer, which the JSON readers take as it is)."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    head = "\r\n".join([*lines, f"Content-Length: {len(body)}", "", ""]).encode("latin-1")
    with connect(port) as sock, sock.makefile("rb") as reader:
        sock.sendall(head + body[:100])
        step = -(-(len(body) - 100) // pieces)
        for start in range(100, len(body), step):
            time.sleep(0.02)
            sock.sendall(body[start : start + step])
        return read_answer(reader)


def test_streamed_json_batches_are_read_like_whole_ones(server, batch):
    pixels = (batch / 255).round(4).reshape(BATCH, -1).tolist()
    predict = json.dumps({"images": pixels}).encode()
    tf_serving = json.dumps({"instances": pixels}).encode()
    for path, body in (("/predict", predict), ("/v1/models/mnist:predict", tf_serving)):
        streamed = send_in_pieces(server.port, path, body)
        whole = requests.post(f"{server.url}{path}", data=body, timeout=30, headers=JSON)
        assert streamed is not None and streamed.status == whole.status_code == 200
        assert streamed.json() == whole.json()


@pytest.mark.parametrize(
    ("prefix", "suffix", "said"),
    [(b"", b",]}", "not valid JSON"), (b"\xef\xbb\xbf", b"]}", "not valid JSON")],
)
def test_a_streamed_json_body_the_fast_path_refuses_gets_the_general_answer(
    server, manifest, prefix, suffix, said
):
    body = prefix + b'{"images": [' + b",".join([b"[" + b"0.5," * 783 + b"0.5]"] * 80) + suffix
    answer = send_in_pieces(server.port, "/predict", body)
    assert said in check_service_answer(answer, 400, "nested", manifest["version"])
