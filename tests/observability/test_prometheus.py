"""A real Prometheus server (Debian's package, on loopback) scrapes the function every
second and loads monitoring/alerts.yml; known traffic is then read back through
Prometheus' HTTP API: counters, the request rate and a histogram quantile."""

from __future__ import annotations

import time

import requests

from tests.observability.prom import scalar, wait_for


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
        "DigitrunProductionAccuracyLow",
    }
    assert all(rule["health"] != "err" for rule in alerts.values())
    assert alerts["DigitrunModelNotReady"]["state"] == "inactive"
