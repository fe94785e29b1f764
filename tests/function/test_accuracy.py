"""Accuracy through the HTTP API on all 10,000 test images equals the manifest's."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from tests.function.helpers import v2_binary_body, v2_outputs

pytestmark = pytest.mark.slow


def test_accuracy_through_predict_batches(server, http, mnist, manifest):
    predictions = []
    for start in range(0, len(mnist.x_test), 500):  # 500 images: ~2 MB of JSON per request
        body = orjson.dumps(
            {"images": mnist.x_test[start : start + 500]}, option=orjson.OPT_SERIALIZE_NUMPY
        )
        response = http.post(
            f"{server.url}/predict",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        predictions.extend(response.json()["predictions"])
    accuracy = float(np.mean(np.asarray(predictions) == mnist.y_test))
    assert accuracy == pytest.approx(manifest["metrics"]["test_accuracy"], abs=1e-9)


def test_accuracy_through_v2_binary(server, http, mnist, manifest):
    predictions = []
    for start in range(0, len(mnist.x_test), 1000):
        body, headers = v2_binary_body(
            mnist.x_test[start : start + 1000],
            outputs=[{"name": "prediction", "parameters": {"binary_data": True}}],
        )
        response = http.post(
            f"{server.url}/v2/models/mnist/infer", data=body, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        predictions.append(v2_outputs(response)["prediction"])
    accuracy = float(np.mean(np.concatenate(predictions) == mnist.y_test))
    assert accuracy == pytest.approx(manifest["metrics"]["test_accuracy"], abs=1e-9)
