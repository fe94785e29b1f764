"""What ``/metrics`` shows on the main port, which may be public: no interpreter version
(``python_info``, nor the ``python_gc_*`` collector) and no file-descriptor gauges; the
METRICS_PORT server (never routed by Cloud Run) keeps every process metric, and no answer
names the server or the interpreter (no ``Server`` header).

In-process tests check the filter and the metrics-port server; the slow ones a real server.
"""

from __future__ import annotations

import socket
import urllib.request

import pytest
import requests
from prometheus_client import REGISTRY, generate_latest

from scripts.local_stack import free_port
from tests.observability.scrape import scrape, value

PRIVATE = ("python_info", "process_open_fds", "process_max_fds", "python_gc_objects_collected")


def names(text: str) -> set[str]:
    """The sample names of an exposition."""
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}


def test_the_main_port_exposition_leaves_out_the_interpreter_and_fds():
    from function.observability import exposition

    everything = names(generate_latest(REGISTRY).decode())
    # the default registry has them (single-process mode): the filter is what removes them
    assert {"python_info", "process_open_fds", "process_max_fds"} <= everything
    shown = names(exposition.exposition().decode())
    assert not [name for name in shown if name.startswith(PRIVATE)], shown
    assert {"process_resident_memory_bytes", "process_cpu_seconds_total"} <= shown
    assert shown == {name for name in everything if not exposition.private(name.split("_total")[0])}


def test_private_names():
    from function.observability.exposition import private

    for name in ("python_info", "python_gc_collections", "process_open_fds", "process_max_fds"):
        assert private(name), name
    for name in ("process_resident_memory_bytes", "digitrun_requests", "digitrun_model_info"):
        assert not private(name), name


@pytest.fixture
def metrics_port(tmp_path, monkeypatch):
    """The METRICS_PORT server in this process (multiprocess mode on an empty directory)."""
    from function.observability import exposition

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    port = free_port()
    server = exposition.serve_on_port(port, "127.0.0.1")
    yield port
    server.shutdown()
    server.server_close()


def raw_answer(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_metrics_port_keeps_process_metrics_and_names_no_server(metrics_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as answer:
        assert answer.status == 200
        assert answer.headers.get("Server") is None, answer.headers
        shown = names(answer.read().decode())
    assert {"process_open_fds", "process_max_fds", "process_resident_memory_bytes"} <= shown
    assert "python_info" not in shown
    # the stdlib's own answers too: a good request, and one it refuses itself (431)
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(101))
    for request, status in (
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"200"),
        (b"GET /metrics HTTP/1.1\r\n" + many + b"\r\n", b"431"),
    ):
        head = raw_answer(metrics_port, request).split(b"\r\n\r\n")[0].lower()
        assert head.startswith(b"http/1.0 " + status), head
        assert b"\r\nserver:" not in head and b"python" not in head, head


def served_names(url: str) -> set[str]:
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-content-type-options"] == "nosniff"
    return names(answer.text)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_real_main_port_shows_no_interpreter_or_fds(start_server, workers):
    server = start_server(workers=workers)
    shown = served_names(f"{server.url}/metrics")
    assert not [name for name in shown if name.startswith(PRIVATE)], shown
    assert {"process_resident_memory_bytes", "digitrun_model_ready"} <= shown


def test_a_real_metrics_port_keeps_what_the_sidecar_needs(start_server):
    port = free_port()
    start_server(METRICS_PORT=str(port))
    url = f"http://127.0.0.1:{port}/metrics"
    answer = requests.get(url, timeout=5)
    assert "server" not in answer.headers, answer.headers
    samples = scrape(url)
    pids = {dict(labels)["pid"] for (name, labels) in samples if name == "process_open_fds"}
    assert len(pids) >= 2, samples.keys()  # the master and the worker
    assert value(samples, "digitrun_model_ready") == 1
    assert "python_info" not in {name for name, _ in samples}


def test_a_real_server_names_no_server(start_server):
    server = start_server()
    for method, path in (("GET", "/v2/health/ready"), ("GET", "/nope"), ("TRACE", "/")):
        answer = requests.request(method, f"{server.url}{path}", timeout=5)
        assert "server" not in answer.headers, (method, path, answer.headers)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad header\r\n\r\n")
        head = sock.recv(4096).split(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 400") and b"\r\nserver:" not in head, head
