"""A real Prometheus server (Debian's package, on loopback) scraping the function every
second with monitoring/alerts.yml loaded, and reading it back through its HTTP API."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import requests

from scripts.local_stack import ROOT, free_port

DEADLINE = 30.0


@pytest.fixture
def prometheus(tmp_path):
    """``prometheus(target_port)`` → the base URL of a Prometheus scraping that port."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run `make system-deps`")
    processes = []

    def start(target_port: int) -> str:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {ROOT / 'monitoring' / 'alerts.yml'}\n"
            "scrape_configs:\n  - job_name: digitrun\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n"
        )
        port = free_port()
        log = (tmp_path / "prometheus.log").open("wb")
        processes.append(
            subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        url = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: requests.get(f"{url}/-/ready", timeout=1).status_code == 200, "Prometheus ready"
        )
        return url

    yield start
    for process in processes:
        process.terminate()
        process.wait(15)


def wait_for(check, what: str, deadline: float = DEADLINE):
    """Poll ``check`` until it returns a truthy value; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        try:
            last = check()
            if last:
                return last
        except requests.RequestException:
            pass
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


def query(url: str, expr: str) -> list[dict]:
    answer = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def scalar(url: str, expr: str) -> float | None:
    result = query(url, expr)
    return float(result[0]["value"][1]) if result else None
