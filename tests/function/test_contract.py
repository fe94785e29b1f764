"""Every route of the real server, with real test digits; answers equal the model run locally
and conform to the OpenAPI document."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

from tests.function.helpers import as_photo, encode, to_u8, v2_binary_body, v2_outputs

pytestmark = pytest.mark.slow

V2 = "/v2/models/mnist"
V2_VERSIONED = "/v2/models/mnist/versions/{version}"


def test_predict_single_digit_matches_the_model(
    server, http, digits, reference, manifest, conforms
):
    x, _ = digits
    for image in (x[0].tolist(), x[0].reshape(28, 28).tolist()):
        response = http.post(f"{server.url}/predict", json={"image": image}, timeout=5)
        assert response.status_code == 200, response.text
        conforms("/predict", "POST", response)
        body = response.json()
        expected = reference(x[:1])
        assert body["prediction"] == int(expected.argmax())
        assert len(body["probabilities"]) == 1  # the original server's (1, 10) nesting
        np.testing.assert_array_equal(np.float32(body["probabilities"]), expected)
        assert body["confidence"] == pytest.approx(float(expected.max()))
        assert body["model_version"] == manifest["version"]
        assert response.headers["X-Model-Version"] == manifest["version"]


def test_predict_batch(server, http, digits, reference, conforms):
    x, _ = digits
    response = http.post(f"{server.url}/predict", json={"images": x.tolist()}, timeout=5)
    assert response.status_code == 200, response.text
    conforms("/predict", "POST", response)
    body = response.json()
    expected = reference(x)
    assert body["predictions"] == expected.argmax(axis=1).tolist()
    np.testing.assert_array_equal(np.float32(body["probabilities"]), expected)
    nested = http.post(
        f"{server.url}/predict", json={"images": x.reshape(-1, 28, 28).tolist()}, timeout=5
    )
    assert nested.json()["predictions"] == body["predictions"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_predict_raw_image_body(server, http, digits, reference, conforms, fmt):
    """A digit photographed dark-on-light, enlarged and off-centre, still reads right."""
    x, _ = digits
    expected = reference(x).argmax(axis=1)
    agree = 0
    for i in range(len(x)):
        response = http.post(
            f"{server.url}/predict",
            data=as_photo(x[i], fmt),
            headers={"Content-Type": f"image/{fmt.lower()}"},
            timeout=5,
        )
        assert response.status_code == 200, response.text
        agree += response.json()["prediction"] == expected[i]
    conforms("/predict", "POST", response)
    assert agree >= 0.85 * len(x)


def test_predict_mnist_png_is_the_digit_itself(server, http, digits, reference):
    """An MNIST digit saved as a 28x28 PNG comes back as (almost) itself."""
    x, _ = digits
    expected = reference(x).argmax(axis=1)
    answers = [
        http.post(
            f"{server.url}/predict",
            data=encode(to_u8(image), "PNG"),
            headers={"Content-Type": "image/png"},
            timeout=5,
        ).json()["prediction"]
        for image in x
    ]
    assert np.mean(np.array(answers) == expected) >= 0.95


def test_predict_multipart_upload(server, http, digits, reference, conforms):
    x, _ = digits
    response = http.post(
        f"{server.url}/predict",
        files={"image": ("digit.png", encode(to_u8(x[0]), "PNG"), "image/png")},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    conforms("/predict", "POST", response)
    assert response.json()["prediction"] == int(reference(x[:1]).argmax())


def test_tfserving_row_and_columnar(server, http, digits, reference, conforms):
    x, _ = digits
    url = f"{server.url}/v1/models/mnist:predict"
    expected = reference(x[:5])
    rows = http.post(url, json={"instances": x[:5].tolist()}, timeout=5)
    assert rows.status_code == 200, rows.text
    conforms("/v1/models/mnist:predict", "POST", rows)
    np.testing.assert_array_equal(np.float32(rows.json()["predictions"]), expected)
    named = http.post(
        url,
        json={
            "signature_name": "serving_default",
            "instances": [{"image": r} for r in x[:5].tolist()],
        },
        timeout=5,
    )
    np.testing.assert_array_equal(np.float32(named.json()["predictions"]), expected)
    columns = http.post(url, json={"inputs": x[:5].reshape(-1, 28, 28).tolist()}, timeout=5)
    assert columns.status_code == 200, columns.text
    np.testing.assert_array_equal(np.float32(columns.json()["outputs"]), expected)
    by_name = http.post(url, json={"inputs": {"image": x[:5].tolist()}}, timeout=5)
    np.testing.assert_array_equal(np.float32(by_name.json()["outputs"]), expected)


def test_tfserving_b64_images(server, http, digits, reference):
    x, _ = digits
    url = f"{server.url}/v1/models/mnist:predict"
    b64 = [base64.b64encode(encode(to_u8(image), "PNG")).decode() for image in x[:5]]
    expected = reference(x[:5]).argmax(axis=1)
    for payload in (
        {"instances": [{"b64": s} for s in b64]},
        {"instances": [{"image": {"b64": s}} for s in b64]},
        {"inputs": [{"b64": s} for s in b64]},
    ):
        response = http.post(url, json=payload, timeout=5)
        assert response.status_code == 200, response.text
        key = "predictions" if "instances" in payload else "outputs"
        got = np.asarray(response.json()[key]).argmax(axis=1)
        assert np.mean(got == expected) >= 0.8
    for payload in ({"inputs": {"b64": b64[0]}}, {"inputs": {"image": {"b64": b64[0]}}}):
        single = http.post(url, json=payload, timeout=5)
        assert single.status_code == 200, single.text
        assert np.argmax(single.json()["outputs"][0]) == expected[0]


def test_tfserving_status_and_metadata(server, http, manifest, conforms):
    status = http.get(f"{server.url}/v1/models/mnist", timeout=5)
    assert status.status_code == 200
    conforms("/v1/models/mnist", "GET", status)
    entry = status.json()["model_version_status"][0]
    assert entry["version"] == manifest["version"]
    assert entry["state"] == "AVAILABLE"
    metadata = http.get(f"{server.url}/v1/models/mnist/metadata", timeout=5)
    conforms("/v1/models/mnist/metadata", "GET", metadata)
    signature = metadata.json()["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert [d["size"] for d in signature["inputs"]["image"]["tensor_shape"]["dim"]] == ["-1", "784"]


def test_metadata_answers_equal_the_manifests_tensor_spec(server, http, manifest):
    """V2 and TF Serving describe the tensors exactly as the published manifest does."""
    dtypes = {"float32": ("FP32", "DT_FLOAT")}
    spec_in, spec_out = manifest["input"], manifest["output"]

    def dims(shape):
        return [-1 if d is None else d for d in shape]

    v2 = http.get(f"{server.url}/v2/models/mnist", timeout=5).json()
    assert v2["inputs"] == [
        {
            "name": spec_in["name"],
            "datatype": dtypes[spec_in["dtype"]][0],
            "shape": dims(spec_in["shape"]),
        }
    ]
    probabilities = {
        "name": spec_out["name"],
        "datatype": dtypes[spec_out["dtype"]][0],
        "shape": dims(spec_out["shape"]),
    }
    assert v2["outputs"][0] == probabilities
    assert v2["outputs"][1] == {"name": "prediction", "datatype": "INT64", "shape": [-1]}

    tf = http.get(f"{server.url}/v1/models/mnist/metadata", timeout=5).json()
    signature = tf["metadata"]["signature_def"]["signature_def"]["serving_default"]
    for tensors, entry in ((signature["inputs"], spec_in), (signature["outputs"], spec_out)):
        assert list(tensors) == [entry["name"]]
        tensor = tensors[entry["name"]]
        assert tensor["dtype"] == dtypes[entry["dtype"]][1]
        assert [int(d["size"]) for d in tensor["tensor_shape"]["dim"]] == dims(entry["shape"])


def test_v2_server_and_health(server, http, conforms):
    meta = http.get(f"{server.url}/v2", timeout=5)
    conforms("/v2", "GET", meta)
    assert meta.json()["name"] == "digitrun"
    assert "binary_tensor_data" in meta.json()["extensions"]
    for path in ("/v2/health/live", "/v2/health/ready"):
        response = http.get(f"{server.url}{path}", timeout=5)
        assert response.status_code == 200
        conforms(path, "GET", response)


@pytest.mark.parametrize("prefix", [V2, V2_VERSIONED])
def test_v2_model_metadata_and_ready(server, http, manifest, conforms, prefix):
    base = server.url + prefix.format(version=manifest["version"])
    meta = http.get(base, timeout=5)
    assert meta.status_code == 200
    conforms(prefix, "GET", meta)
    body = meta.json()
    assert body["name"] == "mnist"
    assert body["versions"] == [manifest["version"]]
    assert body["inputs"][0] == {"name": "image", "datatype": "FP32", "shape": [-1, 784]}
    assert {o["name"] for o in body["outputs"]} == {"probabilities", "prediction"}
    ready = http.get(f"{base}/ready", timeout=5)
    assert ready.status_code == 200
    conforms(f"{prefix}/ready", "GET", ready)


@pytest.mark.parametrize("prefix", [V2, V2_VERSIONED])
def test_v2_infer_json(server, http, digits, reference, manifest, conforms, prefix):
    x, _ = digits
    url = server.url + prefix.format(version=manifest["version"]) + "/infer"
    request = {
        "id": "req-42",
        "inputs": [
            {"name": "image", "shape": [3, 784], "datatype": "FP32", "data": x[:3].tolist()}
        ],
    }
    response = http.post(url, json=request, timeout=5)
    assert response.status_code == 200, response.text
    conforms(f"{prefix}/infer", "POST", response)
    body = response.json()
    assert body["id"] == "req-42"
    assert body["model_name"] == "mnist"
    assert body["model_version"] == manifest["version"]
    outputs = v2_outputs(response)
    expected = reference(x[:3])
    np.testing.assert_array_equal(outputs["probabilities"], expected)
    np.testing.assert_array_equal(outputs["prediction"], expected.argmax(axis=1))


def test_v2_infer_uint8_28x28_and_flat_data(server, http, digits, reference):
    x, _ = digits
    u8 = np.round(x[:4] * 255).astype(np.uint8)
    request = {
        "inputs": [
            {
                "name": "image",
                "shape": [4, 28, 28],
                "datatype": "UINT8",
                "data": u8.ravel().tolist(),  # flat data, as the specification allows
            }
        ]
    }
    response = http.post(f"{server.url}{V2}/infer", json=request, timeout=5)
    assert response.status_code == 200, response.text
    expected = reference(u8.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(v2_outputs(response)["probabilities"], expected)


def test_v2_requested_outputs_are_honoured(server, http, digits, reference):
    x, _ = digits
    request = {
        "inputs": [
            {"name": "image", "shape": [2, 784], "datatype": "FP32", "data": x[:2].tolist()}
        ],
        "outputs": [{"name": "prediction"}],
    }
    response = http.post(f"{server.url}{V2}/infer", json=request, timeout=5)
    outputs = response.json()["outputs"]
    assert [o["name"] for o in outputs] == ["prediction"]
    assert outputs[0]["datatype"] == "INT64"
    assert outputs[0]["data"] == reference(x[:2]).argmax(axis=1).tolist()


@pytest.mark.parametrize("datatype", ["FP32", "UINT8"])
def test_v2_binary_in_and_out(server, http, digits, reference, conforms, datatype):
    x, _ = digits
    images = x[:8] if datatype == "FP32" else np.round(x[:8] * 255).astype(np.uint8)
    body, headers = v2_binary_body(
        images,
        datatype,
        outputs=[
            {"name": "probabilities", "parameters": {"binary_data": True}},
            {"name": "prediction", "parameters": {"binary_data": False}},
        ],
        id="bin-1",
    )
    response = http.post(f"{server.url}{V2}/infer", data=body, headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    conforms(f"{V2}/infer", "POST", response)
    assert response.headers["Content-Type"] == "application/octet-stream"
    header_length = int(response.headers["Inference-Header-Content-Length"])
    assert len(response.content) == header_length + 8 * 10 * 4
    outputs = v2_outputs(response)
    scaled = images if datatype == "FP32" else images.astype(np.float32) / 255.0
    expected = reference(scaled)
    np.testing.assert_array_equal(outputs["probabilities"], expected)
    np.testing.assert_array_equal(outputs["prediction"], expected.argmax(axis=1))


def test_v2_binary_data_output_for_all_outputs(server, http, digits, reference):
    x, _ = digits
    body, headers = v2_binary_body(x[:3], parameters={"binary_data_output": True})
    response = http.post(f"{server.url}{V2}/infer", data=body, headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    outputs = v2_outputs(response)
    assert set(outputs) == {"probabilities", "prediction"}
    assert all("data" not in o for o in _header(response)["outputs"])
    np.testing.assert_array_equal(outputs["prediction"], reference(x[:3]).argmax(axis=1))


def _header(response) -> dict:
    import json

    length = int(response.headers["Inference-Header-Content-Length"])
    return json.loads(response.content[:length])


def test_openapi_document_is_served(server, http, conforms):
    response = http.get(f"{server.url}/openapi.json", timeout=5)
    assert response.status_code == 200
    conforms("/openapi.json", "GET", response)
    assert response.json()["openapi"].startswith("3.")


def test_every_answer_carries_the_model_version(server, http, manifest):
    for method, path in (
        ("GET", "/v2/health/live"),
        ("GET", "/nowhere"),
        ("GET", "/predict"),
        ("POST", "/predict"),
        ("HEAD", "/v2/health/ready"),
        ("GET", "/v2/models/other"),
    ):
        response = http.request(method, f"{server.url}{path}", timeout=5)
        assert response.headers["X-Model-Version"] == manifest["version"], (method, path)


def test_head_answers_without_a_body(server, http):
    response = http.head(f"{server.url}/v2/health/ready", timeout=5)
    assert response.status_code == 200
    assert response.content == b""


def test_trailing_slash_is_the_same_route(server, http):
    assert http.get(f"{server.url}/v2/health/ready/", timeout=5).status_code == 200


def test_the_page_and_its_assets(server, http, conforms):
    """Through the real server: the page's headers, a 304 without a body, HEAD."""
    static = Path(__file__).resolve().parents[2] / "function" / "static"
    page = http.get(f"{server.url}/", timeout=5)
    assert page.status_code == 200
    conforms("/", "GET", page)
    assert page.content == (static / "index.html").read_bytes()
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'; ")
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-cache"
    again = http.get(f"{server.url}/", headers={"If-None-Match": page.headers["ETag"]}, timeout=5)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == page.headers["ETag"]
    head = http.head(f"{server.url}/", timeout=5)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(page.content))
    script = http.get(f"{server.url}/static/app.js", timeout=5)
    assert script.status_code == 200
    conforms("/static/{name}", "GET", script)
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert script.content == (static / "app.js").read_bytes()


def test_feedback_on_a_real_prediction(server, http, digits, reference, conforms):
    x, _ = digits
    predicted = http.post(f"{server.url}/predict", json={"image": x[0].tolist()}, timeout=5)
    conforms("/predict", "POST", predicted)
    body = predicted.json()
    assert body["prediction"] == int(reference(x[:1]).argmax())
    assert predicted.headers["X-Prediction-Id"] == body["prediction_id"]
    actual = (body["prediction"] + 1) % 10
    answer = http.post(
        f"{server.url}/feedback",
        json={"prediction_id": body["prediction_id"], "actual": actual},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    conforms("/feedback", "POST", answer)
    assert answer.json() == {
        "prediction_id": body["prediction_id"],
        "predicted": body["prediction"],
        "actual": actual,
        "correct": False,
    }
    unknown = http.post(
        f"{server.url}/feedback", json={"prediction_id": "x" * 36, "actual": 1}, timeout=5
    )
    assert unknown.status_code == 404
    conforms("/feedback", "POST", unknown)
