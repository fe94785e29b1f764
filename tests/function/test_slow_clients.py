"""Slow, idle and greedy clients cannot hold a worker's connections: headers and bodies
have deadlines, idle keep-alive connections close, header count and size are capped and so
are a worker's connections. Raw sockets on real servers with short timeouts; every wait is
bounded and every timing bound leaves seconds of margin (a busy 2-core machine)."""

from __future__ import annotations

import time

import psutil
import pytest
import requests

from tests.function.raw_http import (
    check_service_answer,
    connect,
    exchange,
    read_answer,
    request,
)
from tests.observability.scrape import scrape, value

pytestmark = pytest.mark.slow

TIMEOUT = 1.0  # HEADER_TIMEOUT_SECONDS and BODY_TIMEOUT_SECONDS of the slow_server
KEEPALIVE = 2.0  # gunicorn's keepalive, which uvicorn applies between requests
MARGIN = 4.0  # seconds a deadline may be late on a loaded machine
LIVE = "/v2/health/live"


@pytest.fixture(scope="module")
def slow_server(start_server):
    return start_server(HEADER_TIMEOUT_SECONDS=str(TIMEOUT), BODY_TIMEOUT_SECONDS=str(TIMEOUT))


def post_head(path: str, length: int, content_type: str = "application/json") -> bytes:
    return request("POST", path, f"Content-Type: {content_type}", f"Content-Length: {length}")


def test_partial_headers_get_408_within_the_timeout(slow_server, manifest):
    answer = exchange(slow_server.port, b"GET /predict HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    message = check_service_answer(answer, 408, "nested", manifest["version"])
    assert "HEADER_TIMEOUT_SECONDS" in message and answer.closed, message
    assert TIMEOUT * 0.9 <= answer.seconds <= TIMEOUT + MARGIN, answer.seconds


def test_headers_trickled_byte_by_byte_still_meet_the_deadline(slow_server, manifest):
    """A slowloris client: every byte resets nothing; the deadline is the whole header's."""
    started = time.monotonic()
    with connect(slow_server.port) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")
        sock.settimeout(0.2)
        for byte in b"X-Pad: " + b"a" * 40:  # a byte every 0.2 s: 9 s, far past the deadline
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(65536, 0x02):  # MSG_PEEK: the answer has come
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(MARGIN)
        with sock.makefile("rb") as reader:
            answer = read_answer(reader)
    assert time.monotonic() - started <= TIMEOUT + MARGIN
    check_service_answer(answer, 408, "plain", manifest["version"])


def test_a_connection_that_never_sends_is_closed_without_an_answer(slow_server):
    started = time.monotonic()
    with connect(slow_server.port) as sock, sock.makefile("rb") as reader:
        assert read_answer(reader) is None
    assert TIMEOUT * 0.9 <= time.monotonic() - started <= TIMEOUT + MARGIN


@pytest.mark.parametrize(
    ("path", "style"), [("/predict", "nested"), ("/v2/models/mnist/infer", "plain")]
)
def test_a_body_shorter_than_its_length_gets_408_json_and_close(slow_server, manifest, path, style):
    answer = exchange(slow_server.port, post_head(path, 100) + b'{"image": [')
    message = check_service_answer(answer, 408, style, manifest["version"])
    assert "BODY_TIMEOUT_SECONDS" in message, message
    assert answer.closed and answer.headers["connection"] == "close", answer.headers
    assert TIMEOUT * 0.9 <= answer.seconds <= TIMEOUT + MARGIN, answer.seconds
    metrics = requests.get(f"{slow_server.url}/metrics", timeout=10).text
    assert 'reason="body_timeout"' in metrics


def test_a_stalled_chunked_upload_gets_408(slow_server, manifest):
    head = request("POST", "/predict", "Content-Type: image/png", "Transfer-Encoding: chunked")
    answer = exchange(slow_server.port, head + b"4\r\n\x89PNG\r\n")
    check_service_answer(answer, 408, "nested", manifest["version"])
    assert answer.closed


def test_a_slow_but_steady_body_is_read_whole(slow_server, mnist):
    """The body deadline is per chunk: a body that takes longer than it, in short gaps,
    is answered (here 6 gaps of a third of the timeout)."""
    body = ('{"image": ' + str(mnist.x_test[0].tolist()) + "}").encode()
    parts = [body[i * len(body) // 6 : (i + 1) * len(body) // 6] for i in range(6)]
    with connect(slow_server.port) as sock, sock.makefile("rb") as reader:
        sock.sendall(post_head("/predict", len(body)))
        for part in parts:
            time.sleep(TIMEOUT / 3)
            sock.sendall(part)
        answer = read_answer(reader)
    assert answer is not None and answer.status == 200, answer


def test_an_idle_keep_alive_connection_is_closed(slow_server):
    with connect(slow_server.port) as sock, sock.makefile("rb") as reader:
        for _ in range(2):  # the connection is kept alive between requests
            sock.sendall(request("GET", LIVE))
            answer = read_answer(reader)
            assert answer is not None and answer.status == 200 and not answer.closed
        started = time.monotonic()
        assert reader.read(1) == b""  # the server closes it
        waited = time.monotonic() - started
    assert KEEPALIVE * 0.9 <= waited <= KEEPALIVE + MARGIN, waited


def test_an_answered_request_whose_body_stalls_is_closed(slow_server, manifest):
    """A 404 is answered before its body is read; the rest of the body must keep coming."""
    with connect(slow_server.port) as sock, sock.makefile("rb") as reader:
        sock.sendall(post_head("/nope", 1000) + b"{}")
        check_service_answer(read_answer(reader), 404, "nested", manifest["version"])
        started = time.monotonic()
        assert reader.read(1) == b""
    assert time.monotonic() - started <= TIMEOUT + MARGIN


def test_an_answered_request_whose_body_completes_keeps_the_connection(slow_server):
    with connect(slow_server.port) as sock, sock.makefile("rb") as reader:
        sock.sendall(post_head("/nope", 10) + b"12345")
        assert read_answer(reader).status == 404
        sock.sendall(b"67890" + request("GET", LIVE))
        answer = read_answer(reader)
        assert answer is not None and answer.status == 200
        started = time.monotonic()
        assert reader.read(1) == b""  # and then the keep-alive timeout applies again
    assert time.monotonic() - started <= KEEPALIVE + MARGIN


def pad(count: int, size: int = 10) -> list[str]:
    return [f"X-Pad-{i}: {'a' * size}" for i in range(count)]


def test_100_headers_are_read_and_101_refused_with_431(server, manifest):
    ok = exchange(server.port, request("GET", LIVE, *pad(98), "Connection: close"))
    assert ok is not None and ok.status == 200  # Host, 98 and Connection: 100
    answer = exchange(server.port, request("GET", LIVE, *pad(100)))
    message = check_service_answer(answer, 431, "plain", manifest["version"])
    assert "MAX_HEADERS" in message and answer.closed, message


def test_headers_over_the_byte_limit_get_431_and_a_long_target_414(server, manifest):
    answer = exchange(server.port, request("GET", "/predict", *pad(1, 17_000)))
    message = check_service_answer(answer, 431, "nested", manifest["version"])
    assert "MAX_HEADER_BYTES" in message and answer.closed, message
    answer = exchange(server.port, request("GET", "/predict?" + "a" * 17_000))
    message = check_service_answer(answer, 414, "nested", manifest["version"])
    assert "MAX_HEADER_BYTES" in message and answer.closed, message


def worker_of(server) -> psutil.Process:
    deadline = time.monotonic() + 10
    while not (workers := psutil.Process(server.process.pid).children()):
        assert time.monotonic() < deadline, "no worker"
        time.sleep(0.05)
    return workers[0]


def test_the_connection_cap_holds_and_frees(start_server, manifest):
    cap, extra = 20, 200
    server = start_server(MAX_CONNECTIONS=str(cap), HEADER_TIMEOUT_SECONDS="60")
    worker = worker_of(server)
    fds = worker.num_fds()
    held = [connect(server.port) for _ in range(cap)]
    try:
        refused = [connect(server.port) for _ in range(extra)]
        answers = []
        for sock in refused:
            with sock, sock.makefile("rb") as reader:
                answers.append(read_answer(reader))
        check_service_answer(answers[0], 503, "nested", manifest["version"])
        assert {(a.status, a.closed, a.headers["retry-after"]) for a in answers} == {
            (503, True, "1")
        }
        assert worker.num_fds() <= fds + cap + 5, (fds, worker.num_fds())
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10  # the worker sees the closes shortly after
    while (answer := exchange(server.port, request("GET", LIVE))).status != 200:
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)
    while worker.num_fds() > fds + 2:
        assert time.monotonic() < deadline, (fds, worker.num_fds())
        time.sleep(0.05)


def test_the_connection_layer_counts_its_refusals(slow_server):
    """A 431 and a header-timeout 408 written by the connection layer are counted in
    digitrun_request_errors_total by reason, under the route their path belongs to."""
    url = f"{slow_server.url}/metrics"
    errors = "digitrun_request_errors_total"
    before = scrape(url)
    answer = exchange(slow_server.port, request("GET", LIVE, *pad(100)))
    assert answer is not None and answer.status == 431
    answer = exchange(slow_server.port, b"GET /predict HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert answer is not None and answer.status == 408
    after = scrape(url)
    for route, reason in (("v2_live", "headers_too_large"), ("predict", "header_timeout")):
        grown = value(after, errors, route=route, reason=reason) - value(
            before, errors, route=route, reason=reason
        )
        assert grown == 1, (route, reason, grown)
