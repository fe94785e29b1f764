"""A worker stopped by SIGTERM loses no buffered metric value.

uvicorn drains on SIGTERM (it finishes the requests under way), then ends the process by
re-raising the signal with its default action: atexit never runs. The Recorder flushes when
the signal comes and at every record after it. Here a real uvicorn server in a child process
(multiprocess mode, a flush timer that never fires in the test) records one request per
answer; one request is still running when SIGTERM comes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import requests

from function.observability.flushes import read_state
from scripts.local_stack import ROOT, free_port, wait_for_port
from tests.observability.test_metric_flushes import files_say

SERVER = """
import asyncio, sys
import uvicorn
from function.observability import metrics

recorder = metrics.Recorder(flush_seconds=3600)

async def app(scope, receive, send):
    if scope["path"] == "/slow":
        await asyncio.sleep(1.0)
    recorder.request("predict", "POST", 200, 1e-4)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

config = uvicorn.Config(
    app, host="127.0.0.1", port=int(sys.argv[1]), lifespan="off", log_level="warning"
)
uvicorn.Server(config).run()
"""


def test_sigterm_flushes_what_was_recorded_and_what_the_drain_records(tmp_path):
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT, env=env)
    try:
        wait_for_port(port, process, 60)
        for _ in range(5):
            assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        (ledger,) = tmp_path.glob("flush_*.ledger")
        assert read_state(ledger) == (1, 0)  # recorded, not flushed: the timer is an hour
        slow: list[int] = []
        thread = threading.Thread(
            target=lambda: slow.append(
                requests.get(f"http://127.0.0.1:{port}/slow", timeout=30).status_code
            )
        )
        thread.start()
        time.sleep(0.3)  # the slow request is under way
        process.send_signal(signal.SIGTERM)
        thread.join(30)
        assert process.wait(30) == -signal.SIGTERM  # ended by the signal: no atexit
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert slow == [200]  # answered during the drain, and recorded then
    values = files_say(tmp_path)
    key = (
        "digitrun_requests_total",
        frozenset({("route", "predict"), ("method", "POST"), ("code", "200")}),
    )
    assert values[key] == 6
