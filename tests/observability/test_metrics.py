"""The function's Prometheus metrics: exact values after known requests, a fixed set of
route labels, drift, several workers, the separate metrics port, and promtool's lint."""

from __future__ import annotations

import shutil
import subprocess
import threading

import numpy as np
import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict

from scripts.local_stack import free_port
from tests.observability.scrape import scrape, total, value


def post(url: str, **kwargs) -> requests.Response:
    return requests.post(url, timeout=10, **kwargs)


def sevens(mnist, reference, count: int) -> np.ndarray:
    """``count`` test digits the served model predicts as 7."""
    x = mnist.x_test[:2000]
    picked = x[reference(x).argmax(axis=1) == 7][:count]
    assert len(picked) == count
    return picked


def test_exposition_passes_promtool(start_server, mnist):
    server = start_server()
    post(f"{server.url}/predict", json={"image": mnist.x_test[0].tolist()})
    text = requests.get(f"{server.url}/metrics", timeout=5).content
    result = subprocess.run(
        [shutil.which("promtool") or "promtool", "check", "metrics"],
        input=text,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_exact_values_after_known_requests(start_server, mnist, reference, manifest):
    server = start_server()
    metrics = f"{server.url}/metrics"
    before = scrape(metrics)
    for body in (
        b"{not json",
        b'{"image": "seven"}',
        b'{"image": [' + b",".join([b"2.0"] * 784) + b"]}",
    ):
        answer = post(
            f"{server.url}/predict", data=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 400
    batch = sevens(mnist, reference, 5)
    answer = post(f"{server.url}/predict", json={"images": batch.tolist()})
    assert answer.json()["predictions"] == [7] * 5
    after = scrape(metrics)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("digitrun_request_errors_total", route="predict", reason="invalid_input") == 3
    assert delta("digitrun_requests_total", route="predict", method="POST", code="400") == 3
    assert delta("digitrun_requests_total", route="predict", method="POST", code="200") == 1
    assert delta("digitrun_predictions_total", digit="7") == 5
    assert (
        total(after, "digitrun_predictions_total") - total(before, "digitrun_predictions_total")
        == 5
    )
    assert delta("digitrun_batch_size_count") == 1
    assert delta("digitrun_batch_size_sum") == 5
    assert delta("digitrun_inference_duration_seconds_count") == 1
    assert delta("digitrun_prediction_confidence_count") == 5
    assert delta("digitrun_input_pixel_mean_count") == 5
    expected_mean = float(batch.mean(axis=1).sum())
    assert delta("digitrun_input_pixel_mean_sum") == pytest.approx(expected_mean, rel=1e-4)
    assert delta("digitrun_request_duration_seconds_count", route="predict") == 4
    # buckets start at 50 µs, so sub-millisecond requests are resolved, not lumped together
    text = requests.get(metrics, timeout=5).text
    assert 'digitrun_request_duration_seconds_bucket{le="5e-05",route="predict"}' in text
    assert (
        value(after, "digitrun_request_duration_seconds_bucket", route="predict", le="0.001") >= 1
    )
    tflite = manifest["files"]["model.tflite"]["sha256"]
    assert (
        value(
            after,
            "digitrun_model_info",
            version=manifest["version"],
            sha256=tflite,
            arch="mlp",
            runtime="litert",
        )
        == 1
    )
    assert value(after, "digitrun_model_ready") == 1
    assert value(after, "digitrun_model_load_seconds") > 0
    assert value(after, "process_resident_memory_bytes") > 10e6


def test_unknown_paths_do_not_create_series(start_server):
    server = start_server()
    for path in ("/nope", "/v2/models/other/infer", "/a/b/c?x=1", "/predict/extra"):
        requests.get(f"{server.url}{path}", timeout=5)
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    routes = {
        line.split('route="')[1].split('"')[0] for line in text.splitlines() if 'route="' in line
    }
    assert routes <= {"unknown", "metrics", "v2_ready"}  # v2_ready: the start-up probe
    assert "nope" not in text and "other" not in text and "/a/b" not in text
    samples = scrape(f"{server.url}/metrics")
    assert value(samples, "digitrun_requests_total", route="unknown", method="GET", code="404") == 4


def test_drift_psi_rises_when_predictions_leave_the_prior(start_server, mnist, reference):
    server = start_server(DRIFT_WINDOW="500")
    url = f"{server.url}/predict"
    for start in range(0, 1000, 250):
        post(url, json={"images": mnist.x_test[start : start + 250].tolist()})
    calm = value(scrape(f"{server.url}/metrics"), "digitrun_prediction_drift_psi")
    batch = sevens(mnist, reference, 100)
    for _ in range(5):
        post(url, json={"images": batch.tolist()})
    drifted = value(scrape(f"{server.url}/metrics"), "digitrun_prediction_drift_psi")
    assert calm < 0.1 < 0.2 < drifted, (calm, drifted)


def test_two_workers_add_up(start_server, mnist, tmp_path):
    directory = tmp_path / "prom"
    server = start_server(workers=2, PROMETHEUS_MULTIPROC_DIR=str(directory))
    image = {"image": mnist.x_test[0].tolist()}
    errors = []

    def client() -> None:
        for _ in range(25):  # a new connection each time: the kernel spreads them
            answer = requests.post(
                f"{server.url}/predict", json=image, timeout=10, headers={"Connection": "close"}
            )
            if answer.status_code != 200:
                errors.append(answer.status_code)

    def per_worker() -> dict[str, float]:
        """Each worker's own count, from its own file."""
        counts = {}
        for path in directory.glob("counter_*.db"):
            counted = sum(
                v
                for key, v, *_ in MmapedDict.read_all_values_from_file(str(path))
                if '"digitrun_requests_total"' in key and '"predict"' in key
            )
            if counted:
                counts[path.stem.rsplit("_", 1)[1]] = counted
        return counts

    # Which worker accepts a connection is the kernel's choice: on a busy machine one worker
    # may take a whole round. Send rounds of 200 until both have answered (at most 10).
    sent = 0
    for _ in range(10):
        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        sent += 200
        if len(per_worker()) == 2:
            break
    assert not errors
    samples = scrape(f"{server.url}/metrics")
    assert (
        value(samples, "digitrun_requests_total", route="predict", method="POST", code="200")
        == sent
    )
    assert value(samples, "digitrun_request_duration_seconds_count", route="predict") == sent
    assert value(samples, "digitrun_model_ready") == 1
    counts = per_worker()  # both must have answered, and their counts add up
    assert len(counts) == 2 and sum(counts.values()) == sent, counts
    pids = {
        dict(labels)["pid"] for (name, labels) in samples if name == "process_resident_memory_bytes"
    }
    assert len(pids) >= 3  # the master and both workers


def test_separate_metrics_port(start_server, mnist):
    port = free_port()
    server = start_server(METRICS_PORT=str(port))
    answer = post(f"{server.url}/predict", json={"image": mnist.x_test[0].tolist()})
    assert answer.status_code == 200
    assert requests.get(f"{server.url}/metrics", timeout=5).status_code == 404
    paths = requests.get(f"{server.url}/openapi.json", timeout=5).json()["paths"]
    assert "/metrics" not in paths
    samples = scrape(f"http://127.0.0.1:{port}/metrics")
    assert (
        value(samples, "digitrun_requests_total", route="predict", method="POST", code="200") == 1
    )
    assert value(samples, "digitrun_model_ready") == 1


def test_metrics_can_be_switched_off(start_server):
    server = start_server(METRICS="false")
    assert requests.get(f"{server.url}/metrics", timeout=5).status_code == 404
    paths = requests.get(f"{server.url}/openapi.json", timeout=5).json()["paths"]
    assert "/metrics" not in paths
