"""Feedback metrics from the real server: after known feedback, every
``digitrun_feedback_total{predicted, actual}`` series and ``digitrun_production_accuracy``
hold exactly what was sent — with one worker (in memory), two workers and the separate
metrics port (prometheus_client's multiprocess mode: counts summed over the workers' files,
the accuracy computed from the sum at scrape time)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import yaml
from prometheus_client.mmap_dict import MmapedDict

from scripts.local_stack import ROOT, free_port
from tests.observability.prom import query, scalar, wait_for
from tests.observability.scrape import scrape, total, value

pytestmark = pytest.mark.slow

FEEDBACK = "digitrun_feedback_total"
ACCURACY = "digitrun_production_accuracy"


def fresh(method: str, url: str, **kwargs) -> requests.Response:
    """One request on a new connection: with two workers the kernel spreads them."""
    return requests.request(method, url, timeout=10, headers={"Connection": "close"}, **kwargs)


def give_feedback(base: str, images, labels, wrong_every: int) -> Counter:
    """Predict each image, then say its true label — or, for every ``wrong_every``-th, a
    digit other than the prediction; the (predicted, actual) pairs sent. Eight at a time,
    each request on a new connection: with two workers, both get predictions and feedback,
    and an id often comes back to the worker that did not issue it."""

    def one(i: int) -> tuple[int, int]:
        predicted = fresh("POST", f"{base}/predict", json={"image": images[i].tolist()})
        assert predicted.status_code == 200, predicted.text
        body = predicted.json()
        actual = int(labels[i]) if i % wrong_every else (body["prediction"] + 1) % 10
        answer = fresh(
            "POST",
            f"{base}/feedback",
            json={"prediction_id": body["prediction_id"], "actual": actual},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predicted"] == body["prediction"]
        return body["prediction"], actual

    with ThreadPoolExecutor(8) as pool:
        return Counter(pool.map(one, range(len(images))))


def check_exact(samples, sent: Counter) -> None:
    """Every one of the 100 series holds exactly its count; the accuracy is their ratio."""
    for predicted in range(10):
        for actual in range(10):
            labels = {"predicted": str(predicted), "actual": str(actual)}
            assert (FEEDBACK, frozenset(labels.items())) in samples  # there from the start
            assert value(samples, FEEDBACK, **labels) == sent[(predicted, actual)], labels
    assert total(samples, FEEDBACK) == sum(sent.values())
    correct = sum(n for (p, a), n in sent.items() if p == a)
    assert value(samples, ACCURACY) == correct / sum(sent.values())


def by_process(directory, metric: str) -> dict[str, float]:
    """Each process's own count of ``metric``, read from its multiprocess file."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        counted = sum(
            v
            for key, v, *_ in MmapedDict.read_all_values_from_file(str(path))
            if f'"{metric}"' in key
        )
        if counted:
            counts[path.stem.rsplit("_", 1)[1]] = counted
    return counts


def both_workers_answer(base: str, directory, image) -> None:
    """Predictions, eight at a time, until both workers have answered some (a worker still
    opening its interpreter takes no connection)."""
    end = time.monotonic() + 30
    while len(by_process(directory, "digitrun_predictions_total")) < 2:
        assert time.monotonic() < end, "the second worker never answered"
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: fresh("POST", base, json={"image": image}), range(16)))


@pytest.mark.parametrize("mode", ["one worker", "two workers", "metrics port"])
def test_feedback_counts_and_accuracy_are_exact(start_server, mnist, manifest, tmp_path, mode):
    directory = tmp_path / "prom"
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory)} if mode != "one worker" else {}
    workers = 2 if mode == "two workers" else 1
    port = free_port() if mode == "metrics port" else None
    if port is not None:
        env["METRICS_PORT"] = str(port)
    server = start_server(workers=workers, **env)
    metrics = f"http://127.0.0.1:{port}/metrics" if port else f"{server.url}/metrics"

    if mode == "two workers":
        both_workers_answer(f"{server.url}/predict", directory, mnist.x_test[0].tolist())
    before = scrape(metrics)
    assert total(before, FEEDBACK) == 0
    assert not [key for key in before if key[0] == ACCURACY]  # no feedback: no sample, no NaN
    assert value(before, "digitrun_model_test_accuracy") == manifest["metrics"]["test_accuracy"]

    sent = give_feedback(server.url, mnist.x_test[:40], mnist.y_test[:40], wrong_every=4)
    assert sum(sent.values()) == 40 and 0 < sum(n for (p, a), n in sent.items() if p == a) < 40
    check_exact(scrape(metrics), sent)
    if mode == "two workers":  # both workers took feedback, and the scrape adds them up
        per_worker = by_process(directory, FEEDBACK)
        assert len(per_worker) == 2 and sum(per_worker.values()) == 40, per_worker

    more = give_feedback(server.url, mnist.x_test[40:50], mnist.y_test[40:50], wrong_every=100)
    check_exact(scrape(metrics), sent + more)
    lines = [e for e in server.json_lines() if e.get("message") == "feedback"]
    assert Counter((e["predicted"], e["actual"]) for e in lines) == sent + more
    assert all(e["model_version"] == manifest["version"] for e in lines)


def test_refused_feedback_counts_as_errors_only(start_server, mnist):
    server = start_server()
    metrics = f"{server.url}/metrics"
    predicted = requests.post(
        f"{server.url}/predict", json={"image": mnist.x_test[0].tolist()}, timeout=10
    ).json()
    before = scrape(metrics)
    for payload, status in (
        ({"prediction_id": "A" * 36, "actual": 1}, 404),
        ({"prediction_id": predicted["prediction_id"], "actual": 10}, 400),
        ({"prediction_id": predicted["prediction_id"]}, 400),
    ):
        answer = requests.post(f"{server.url}/feedback", json=payload, timeout=10)
        assert answer.status_code == status, answer.text
    text = requests.post(
        f"{server.url}/feedback", data="7", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert text.status_code == 415
    after = scrape(metrics)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("digitrun_request_errors_total", route="feedback", reason="invalid_input") == 2
    assert (
        delta("digitrun_request_errors_total", route="feedback", reason="prediction_not_found") == 1
    )
    assert (
        delta("digitrun_request_errors_total", route="feedback", reason="unsupported_media_type")
        == 1
    )
    assert delta("digitrun_requests_total", route="feedback", method="POST", code="400") == 2
    assert total(after, FEEDBACK) == 0
    assert not [key for key in after if key[0] == ACCURACY]


def test_page_routes_have_their_labels_and_the_exposition_passes_promtool(start_server, mnist):
    server = start_server()
    assert requests.get(f"{server.url}/", timeout=5).status_code == 200
    assert requests.get(f"{server.url}/static/app.js", timeout=5).status_code == 200
    assert requests.get(f"{server.url}/static/nope.js", timeout=5).status_code == 404
    give_feedback(server.url, mnist.x_test[:3], mnist.y_test[:3], wrong_every=2)
    response = requests.get(f"{server.url}/metrics", timeout=5)
    samples = scrape(f"{server.url}/metrics")
    assert value(samples, "digitrun_requests_total", route="page", method="GET", code="200") == 1
    assert value(samples, "digitrun_requests_total", route="static", method="GET", code="200") == 1
    assert value(samples, "digitrun_requests_total", route="static", method="GET", code="404") == 1
    assert "app.js" not in response.text and "nope" not in response.text
    result = subprocess.run(
        [shutil.which("promtool") or "promtool", "check", "metrics"],
        input=response.content,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def dashboard_and_alert_queries() -> list[str]:
    """Every PromQL expression of the dashboard (Grafana's variables filled in) and the
    alert rule's expression."""
    dashboard = json.loads((ROOT / "monitoring" / "grafana-dashboard.json").read_text())
    exprs = [
        t["expr"].replace("$__range", "1h").replace("$__rate_interval", "5s")
        for panel in dashboard["panels"]
        for t in panel["targets"]
    ]
    rules = yaml.safe_load((ROOT / "monitoring" / "alerts.yml").read_text())["groups"][0]["rules"]
    (alert,) = [r["expr"] for r in rules if r.get("alert") == "DigitrunProductionAccuracyLow"]
    return [*exprs, alert]


def test_prometheus_reads_feedback_and_accuracy(start_server, prometheus, mnist, manifest):
    """A real Prometheus scrapes known feedback: the counters, the scrape-time gauge, the
    dashboard's one-hour accuracy and every dashboard and alert expression evaluate."""
    server = start_server()
    prom = prometheus(server.port)
    wait_for(lambda: scalar(prom, 'up{job="digitrun"}') == 1, "the first scrape")
    sent = give_feedback(server.url, mnist.x_test[:12], mnist.y_test[:12], wrong_every=3)
    expected = sum(n for (p, a), n in sent.items() if p == a) / 12
    wait_for(lambda: scalar(prom, "sum(digitrun_feedback_total)") == 12, "12 feedback")
    for (predicted, actual), count in sent.items():
        series = f'digitrun_feedback_total{{predicted="{predicted}",actual="{actual}"}}'
        assert scalar(prom, f"sum({series})") == count
    assert scalar(prom, "digitrun_production_accuracy") == expected
    test_accuracy = manifest["metrics"]["test_accuracy"]
    assert scalar(prom, "digitrun_model_test_accuracy") == test_accuracy
    queries = dashboard_and_alert_queries()
    (hourly,) = [q for q in queries if q.startswith("(sum(increase(digitrun_feedback_total")]
    assert scalar(prom, hourly) == pytest.approx(expected, rel=1e-9)
    for expr in queries:
        query(prom, expr)  # status "success": the expression is valid PromQL
