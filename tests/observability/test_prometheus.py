"""A real Prometheus server (Debian's package, on loopback) scrapes the function every
second and loads monitoring/alerts.yml; known traffic is then read back through
Prometheus' HTTP API: counters, the request rate and a histogram quantile."""

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


def test_prometheus_reads_the_function(start_server, prometheus, mnist):
    server = start_server()
    prom = prometheus(server.port)
    wait_for(lambda: scalar(prom, 'up{job="digitrun"}') == 1, "the first scrape")

    image = {"image": mnist.x_test[0].tolist()}
    good, bad = 0, 0
    end = time.monotonic() + 4  # traffic across several scrapes, for rate()
    with requests.Session() as http:
        while time.monotonic() < end:
            assert http.post(f"{server.url}/predict", json=image, timeout=5).status_code == 200
            good += 1
            if good % 50 == 0:
                answer = http.post(
                    f"{server.url}/predict",
                    data=b"{oops",
                    timeout=5,
                    headers={"Content-Type": "application/json"},
                )
                assert answer.status_code == 400
                bad += 1
            time.sleep(0.005)
        rate = wait_for(
            lambda: scalar(prom, 'sum(rate(digitrun_requests_total{route="predict"}[5s]))'),
            "a request rate",
        )
        assert rate > 10
        p50 = wait_for(
            lambda: scalar(
                prom,
                "histogram_quantile(0.5, sum by (le) (rate("
                'digitrun_request_duration_seconds_bucket{route="predict"}'
                "[5s])))",
            ),
            "a latency quantile",
        )
        assert 5e-5 <= p50 <= 0.05, p50

    wait_for(
        lambda: scalar(prom, 'sum(digitrun_requests_total{route="predict",code="200"})') == good,
        f"{good} answered predictions",
    )
    assert (
        scalar(prom, 'sum(digitrun_request_errors_total{route="predict",reason="invalid_input"})')
        == bad
    )
    assert scalar(prom, "sum(digitrun_predictions_total)") == good
    assert scalar(prom, "min(digitrun_model_ready)") == 1

    rules = requests.get(f"{prom}/api/v1/rules", timeout=5).json()["data"]["groups"]
    alerts = {
        rule["name"]: rule
        for group in rules
        for rule in group["rules"]
        if rule["type"] == "alerting"
    }
    assert set(alerts) == {
        "DigitrunHighErrorRatio",
        "DigitrunHighLatencyP95",
        "DigitrunPredictionDrift",
        "DigitrunModelNotReady",
        "DigitrunNoTraffic",
    }
    assert all(rule["health"] != "err" for rule in alerts.values())
    assert alerts["DigitrunModelNotReady"]["state"] == "inactive"
