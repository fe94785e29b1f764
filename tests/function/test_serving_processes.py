"""The server as a process: several workers under concurrent load, SIGTERM draining the
requests in flight, and its JSON log lines (access, slow request, trace)."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.function.helpers import v2_binary_body, v2_outputs

pytestmark = pytest.mark.slow


def children(pid: int) -> list[int]:
    """The ids of a process's children (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_concurrent_requests_with_two_workers(start_server, mnist, reference):
    server = start_server(workers=2)
    deadline = time.monotonic() + 10
    while len(workers := children(server.process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(workers) == 2, workers
    before = {pid: cpu_ticks(pid) for pid in workers}
    x = mnist.x_test[:64]
    expected = reference(x).argmax(axis=1)

    def one(i: int) -> bool:
        # a new connection per request: the kernel spreads them over both workers
        if i % 2:
            r = requests.post(
                f"{server.url}/predict", json={"image": x[i % 64].tolist()}, timeout=10
            )
            return r.status_code == 200 and r.json()["prediction"] == expected[i % 64]
        body, headers = v2_binary_body(x[:16])
        r = requests.post(
            f"{server.url}/v2/models/mnist/infer", data=body, headers=headers, timeout=10
        )
        return r.status_code == 200 and (v2_outputs(r)["prediction"] == expected[:16]).all()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(600)))
    assert all(results), results.count(False)
    used = {pid: cpu_ticks(pid) - before[pid] for pid in workers}
    print("cpu ticks per worker", used)
    assert all(ticks > 0 for ticks in used.values()), f"one worker served nothing: {used}"


def test_sigterm_drains_the_request_in_flight(start_server, mnist, reference):
    server = start_server()
    body = json.dumps({"image": mnist.x_test[0].tolist()}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        sock.sendall(body[:100])  # the request is in flight: its body is still coming
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert server.process.poll() is None, "the server quit with a request in flight"
        sock.sendall(body[100:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    payload = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert payload["prediction"] == int(reference(mnist.x_test[:1]).argmax())
    assert server.wait_exit(timeout=15) == 0


def test_access_lines_carry_route_status_latency_and_trace(start_server, mnist):
    server = start_server(LOG_REQUESTS="true", GOOGLE_CLOUD_PROJECT="demo-project")
    headers = {"X-Cloud-Trace-Context": "0af7651916cd43dd8448eb211c80319c/123;o=1"}
    requests.post(
        f"{server.url}/predict",
        json={"image": mnist.x_test[0].tolist()},
        headers=headers,
        timeout=5,
    )
    requests.get(f"{server.url}/no/such/path", timeout=5)
    requests.get(
        f"{server.url}/v2/health/live",
        headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        timeout=5,
    )
    predict, missing, live = _request_lines(server, {"predict", "unknown", "v2_live"})
    assert predict["severity"] == "INFO"
    assert predict["route"] == "predict"
    assert predict["httpRequest"]["status"] == 200
    assert predict["httpRequest"]["requestMethod"] == "POST"
    assert predict["httpRequest"]["latency"].endswith("s")
    assert predict["logging.googleapis.com/trace"] == (
        "projects/demo-project/traces/0af7651916cd43dd8448eb211c80319c"
    )
    assert predict["logging.googleapis.com/spanId"] == "123"
    assert predict["logging.googleapis.com/trace_sampled"] is True
    assert missing["route"] == "unknown"  # a fixed label, never the raw path
    assert missing["httpRequest"]["status"] == 404
    assert live["logging.googleapis.com/trace"].endswith("/4bf92f3577b34da6a3ce929d0e0e4736")


def test_slow_requests_are_logged_even_without_access_lines(start_server, mnist):
    server = start_server(SLOW_REQUEST_SECONDS="0.000001")
    requests.post(f"{server.url}/predict", json={"image": mnist.x_test[0].tolist()}, timeout=5)
    (line,) = _request_lines(server, {"predict"})
    assert line["severity"] == "WARNING"
    assert line["message"].startswith("slow request: POST /predict 200")
    assert line["slow_request_seconds"] == 0.000001


def test_no_access_lines_by_default(server, http):
    for _ in range(3):
        http.get(f"{server.url}/v2/health/live", timeout=5)
    access = [e for e in server.json_lines() if "httpRequest" in e and e["severity"] == "INFO"]
    assert not access  # (slow requests are still logged, as WARNING)


def _request_lines(server, routes: set[str]) -> list[dict]:
    """The request lines of these routes (the readiness polls at start-up are left out)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [e for e in server.json_lines() if e.get("route") in routes]
        if len(lines) >= len(routes):
            return lines
        time.sleep(0.05)
    raise AssertionError(server.log())


def test_worker_memory_is_bounded(server):
    """RSS per process stays well under the 120 MB budget (the benchmark reports it)."""
    for pid in [server.process.pid, *children(server.process.pid)]:
        status = Path(f"/proc/{pid}/status").read_text()
        rss_kb = int(
            next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]
        )
        assert rss_kb < 160_000, (pid, rss_kb)


def test_sigterm_under_load_finishes_the_requests_in_flight(start_server, mnist, reference):
    """Eight clients keep sending 256-image requests on keep-alive connections; SIGTERM in
    the middle: every answer is a 200 with the right predictions (never a 5xx), every
    request sent before the signal is answered (those in flight finish after it), only
    requests sent after it may find the connection closed, and the server exits 0."""
    server = start_server()
    x = mnist.x_test[:256]
    expected = reference(x).argmax(axis=1)
    body, headers = v2_binary_body(x)
    url = f"{server.url}/v2/models/mnist/infer"
    outcomes: list[tuple[float, float, object]] = []
    stop = threading.Event()

    def client() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    response = session.post(url, data=body, headers=headers, timeout=10)
                except requests.ConnectionError as exc:
                    outcomes.append((started, time.monotonic(), type(exc).__name__))
                    return  # the server has closed: no more requests from this client
                right = (
                    response.status_code == 200
                    and (v2_outputs(response)["prediction"] == expected).all()
                )
                outcomes.append((started, time.monotonic(), response.status_code, right))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    code = server.wait_exit(timeout=15)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    answered = [o for o in outcomes if isinstance(o[2], int)]
    assert code == 0
    assert all(o[2] == 200 and o[3] for o in answered), [o for o in answered if o[2] != 200]
    assert len([o for o in answered if o[0] < signalled]) > 50
    assert any(o[0] < signalled < o[1] for o in answered), "no request was in flight"
    dropped = [round(o[0] - signalled, 4) for o in outcomes if not isinstance(o[2], int)]
    assert all(offset >= 0 for offset in dropped), dropped  # seconds after the signal
