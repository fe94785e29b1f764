"""Locust load test of a digitrun endpoint (local or Cloud Run).

    locust -f loadtest/locustfile.py --headless -u 16 -r 16 -t 30s --host http://127.0.0.1:8080

Users send real MNIST test digits (from MNIST_PATH, else Keras' download) to ``/predict``
(single digits, and batches of 32 with LOCUST_BATCH_WEIGHT > 0) and check every answer's
shape. When the run ends, the gate fails it (exit code 1) if the p99 latency exceeds
LOCUST_MAX_P99_MS or the failure ratio exceeds LOCUST_MAX_FAILURE_RATIO.

| env | default | meaning |
|---|---|---|
| MNIST_PATH | Keras download | test digits to send |
| LOCUST_BATCH_WEIGHT | 0 | weight of the batch task (single digits weigh 10) |
| LOCUST_MAX_P99_MS | 50 | latency gate on the aggregated p99 |
| LOCUST_MAX_FAILURE_RATIO | 0.001 | failure gate |
"""

from __future__ import annotations

import logging
import os
import random

import numpy as np
import orjson
from locust import FastHttpUser, events, task

from function.contract.spec import SPEC

BATCH = 32


def load_digits() -> tuple[list[list[float]], list[int]]:
    """The 10,000 MNIST test digits as 784-float lists (0..1) and their labels."""
    path = os.environ.get("MNIST_PATH")
    if path:
        with np.load(path) as data:
            images, labels = data["x_test"], data["y_test"]
    else:
        import keras  # noqa: PLC0415 (only without MNIST_PATH)

        (_, _), (images, labels) = keras.datasets.mnist.load_data()
    scaled = SPEC.input.scale(images).round(4)
    return scaled.tolist(), labels.tolist()


DIGITS, LABELS = load_digits()
SINGLE_BODIES = [orjson.dumps({"image": image}) for image in DIGITS[:1000]]
HEADERS = {"Content-Type": "application/json"}


class DigitUser(FastHttpUser):
    """A client of ``/predict``."""

    @task(10)
    def predict_one(self) -> None:
        index = random.randrange(len(SINGLE_BODIES))
        with self.client.post(
            "/predict",
            data=SINGLE_BODIES[index],
            headers=HEADERS,
            name="/predict",
            catch_response=True,
        ) as response:
            check_single(response)

    @task(int(os.environ.get("LOCUST_BATCH_WEIGHT", "0")))
    def predict_batch(self) -> None:
        start = random.randrange(len(DIGITS) - BATCH)
        body = orjson.dumps({"images": DIGITS[start : start + BATCH]})
        with self.client.post(
            "/predict",
            data=body,
            headers=HEADERS,
            name=f"/predict [batch {BATCH}]",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            answer = orjson.loads(response.content)
            if len(answer.get("predictions", [])) != BATCH:
                response.failure("wrong number of predictions")


def check_single(response) -> None:
    """A 200 with a digit and one row of 10 probabilities."""
    if response.status_code != 200:
        response.failure(f"status {response.status_code}")
        return
    answer = orjson.loads(response.content)
    classes = SPEC.output.classes
    if (
        not 0 <= answer.get("prediction", -1) < classes
        or len(answer["probabilities"][0]) != classes
    ):
        response.failure(f"malformed answer {answer}")


@events.quitting.add_listener
def latency_gate(environment, **_kwargs) -> None:
    """Fail the run when the p99 latency or the failure ratio is over its gate."""
    stats = environment.stats.total
    max_p99 = float(os.environ.get("LOCUST_MAX_P99_MS", "50"))
    max_failures = float(os.environ.get("LOCUST_MAX_FAILURE_RATIO", "0.001"))
    p99 = stats.get_response_time_percentile(0.99) or 0.0
    if stats.num_requests == 0:
        environment.process_exit_code = 1
        reason = "no requests were made"
    elif stats.fail_ratio > max_failures:
        environment.process_exit_code = 1
        reason = f"failure ratio {stats.fail_ratio:.4f} > {max_failures}"
    elif p99 > max_p99:
        environment.process_exit_code = 1
        reason = f"p99 {p99:.0f} ms > {max_p99:.0f} ms"
    else:
        reason = f"p99 {p99:.0f} ms <= {max_p99:.0f} ms, failures {stats.fail_ratio:.4f}"
    verdict = "FAIL" if environment.process_exit_code else "PASS"
    logging.getLogger("digitrun.loadtest").info("latency gate: %s (%s)", verdict, reason)
