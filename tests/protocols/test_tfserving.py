"""TensorFlow Serving REST in-process: row and columnar formats, named inputs, b64 images,
the status and metadata bodies, and TF Serving's plain ``{"error": ...}`` answers."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from function.contract.spec import SPEC, TF_DATATYPES
from function.inputs.images import MAX_ENCODED_IMAGES, image_to_pixels
from function.protocols.routing import routing_table
from function.protocols.tfserving import metadata
from function.web.app import App
from function.web.context import Context
from function.web.routes import Router
from tests.protocols.conftest import SERVER_VERSION, call
from tests.protocols.fake import VERSION, FakeModel, digit_png, images, mnist_like, probabilities

TF = "/v1/models/mnist:predict"
ZEROS = [0.0] * 784


def check_plain_error(answer, status: int, fragment: str) -> str:
    assert answer.status == status, answer.body
    assert answer.headers["x-model-version"] == VERSION
    body = answer.json()
    assert set(body) == {"error"} and isinstance(body["error"], str)
    assert fragment.lower() in body["error"].lower(), body["error"]
    return body["error"]


def b64_png(pixels: np.ndarray) -> str:
    return base64.b64encode(digit_png(pixels)).decode()


ROW_FORMS = {
    "rows": lambda x: {"instances": x.tolist()},
    "28x28 rows": lambda x: {"instances": x.reshape(-1, 28, 28).tolist()},
    "named rows": lambda x: {"instances": [{"image": row} for row in x.tolist()]},
    "signature": lambda x: {"signature_name": "serving_default", "instances": x.tolist()},
    "empty signature": lambda x: {"signature_name": "", "instances": x.tolist()},
}
COLUMN_FORMS = {
    "columns": lambda x: {"inputs": x.tolist()},
    "28x28 columns": lambda x: {"inputs": x.reshape(-1, 28, 28).tolist()},
    "named columns": lambda x: {"inputs": {"image": x.tolist()}},
}


@pytest.mark.parametrize("n", [1, 8])
@pytest.mark.parametrize(
    ("form", "key"),
    [(name, "predictions") for name in ROW_FORMS] + [(name, "outputs") for name in COLUMN_FORMS],
)
def test_numbers_in_every_format(client, form, key, n):
    x = images(n, seed=n + 20)
    payload = {**ROW_FORMS, **COLUMN_FORMS}[form](x)
    answer = client.post_json(TF, payload)
    assert answer.status == 200, answer.body
    assert answer.headers["x-model-version"] == VERSION
    body = answer.json()
    assert list(body) == [key]
    assert np.array_equal(np.float32(body[key]), probabilities(x))
    assert np.array_equal(client.model.batch, x)


def test_integer_instances(client):
    x = np.float32([[0, 1] * 392, [1, 0] * 392])
    answer = client.post_json(TF, {"instances": x.astype(int).tolist()})
    assert np.array_equal(np.float32(answer.json()["predictions"]), probabilities(x))
    assert np.array_equal(client.model.batch, x)


B64_FORMS = {
    "b64 rows": lambda s: {"instances": [{"b64": v} for v in s]},
    "named b64 rows": lambda s: {"instances": [{"image": {"b64": v}} for v in s]},
    "b64 columns": lambda s: {"inputs": [{"b64": v} for v in s]},
}


@pytest.mark.parametrize("form", list(B64_FORMS))
def test_b64_images(client, form):
    rings = [mnist_like(cuts) for cuts in range(3)]
    payload = B64_FORMS[form]([b64_png(ring) for ring in rings])
    answer = client.post_json(TF, payload)
    assert answer.status == 200, answer.body
    key = "predictions" if "instances" in payload else "outputs"
    got = np.float32(answer.json()[key])
    assert np.array_equal(got, probabilities(np.stack(rings)))
    assert got.argmax(axis=1).tolist() == [8, 0, 2]
    expected = np.stack([image_to_pixels(digit_png(ring)) for ring in rings])
    assert np.array_equal(client.model.batch, expected)


@pytest.mark.parametrize(
    "payload",
    [{"inputs": {"b64": "?"}}, {"inputs": {"image": {"b64": "?"}}}, {"instances": {"b64": "?"}}],
    ids=["columns", "named columns", "rows"],
)
def test_one_b64_image_not_in_a_list(client, payload):
    data = b64_png(mnist_like(2))
    payload = json.loads(json.dumps(payload).replace('"?"', json.dumps(data)))
    answer = client.post_json(TF, payload)
    assert answer.status == 200, answer.body
    key = "predictions" if "instances" in payload else "outputs"
    assert np.array_equal(np.float32(answer.json()[key]), probabilities(mnist_like(2)[None]))


def test_numbers_and_images_mixed(client):
    x = images(2, seed=30)
    ring = mnist_like(1)
    payload = {"instances": [x[0].tolist(), {"b64": b64_png(ring)}, {"image": x[1].tolist()}]}
    answer = client.post_json(TF, payload)
    assert answer.status == 200, answer.body
    sent = np.stack([x[0], ring, x[1]])
    assert np.array_equal(np.float32(answer.json()["predictions"]), probabilities(sent))
    assert np.array_equal(client.model.batch, sent)


def test_status(client):
    for path in ("/v1/models/mnist", "/v1/models/mnist/"):
        answer = client.get(path)
        assert answer.status == 200
        assert answer.json() == {
            "model_version_status": [
                {
                    "version": VERSION,
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
        }


def test_metadata_is_the_specs_signature(client):
    answer = client.get("/v1/models/mnist/metadata")
    assert answer.status == 200
    body = answer.json()
    assert body == metadata(VERSION, SPEC)
    assert body["model_spec"] == {"name": "mnist", "signature_name": "", "version": VERSION}
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    inputs, outputs = signature["inputs"], signature["outputs"]
    assert list(inputs) == [SPEC.input.name] == ["image"]
    assert list(outputs) == [SPEC.output.name] == ["probabilities"]
    assert inputs["image"]["dtype"] == TF_DATATYPES[SPEC.input.dtype] == "DT_FLOAT"
    assert outputs["probabilities"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in inputs["image"]["tensor_shape"]["dim"]] == ["-1", "784"]
    assert [d["size"] for d in outputs["probabilities"]["tensor_shape"]["dim"]] == ["-1", "10"]
    assert signature["method_name"] == "tensorflow/serving/predict"


TF_CASES = [
    ("bad json", b"{", 400, "not valid JSON"),
    ("empty", b"", 400, "empty"),
    ("a list", b"[1]", 400, 'JSON object with "instances" or "inputs"'),
    ("no key", b'{"data": []}', 400, 'missing "instances"'),
    ("both keys", json.dumps({"instances": [ZEROS], "inputs": [ZEROS]}).encode(), 400, "not both"),
    ("signature", json.dumps({"signature_name": "x", "instances": [ZEROS]}).encode(), 400, "'x'"),
    ("bad b64", json.dumps({"instances": [{"b64": "!!!notbase64"}]}).encode(), 400, "base64"),
    ("b64 not an image", json.dumps({"instances": [{"b64": "eA=="}]}).encode(), 400, "readable"),
    ("b64 not str", json.dumps({"instances": [{"b64": 5}]}).encode(), 400, "base64 string"),
    ("input name", json.dumps({"instances": [{"pixels": ZEROS}]}).encode(), 400, "'image'"),
    (
        "extra input name",
        json.dumps({"instances": [{"image": ZEROS, "mask": ZEROS}]}).encode(),
        400,
        "['image', 'mask']",
    ),
    ("columns name", json.dumps({"inputs": {"pixels": [ZEROS]}}).encode(), 400, "'image'"),
    ("range", json.dumps({"instances": [[3.0] * 784]}).encode(), 400, "0..1"),
    ("negative", json.dumps({"inputs": [[-1.0] * 784]}).encode(), 400, "0..1"),
    ("shape", json.dumps({"instances": [[0.1] * 3]}).encode(), 400, "shape [1, 3]"),
    ("ragged", json.dumps({"instances": [ZEROS, ZEROS[:5]]}).encode(), 400, "shape [5]"),
    ("mixed", json.dumps({"instances": [ZEROS, {"b64": 1}]}).encode(), 400, '"instances"[1]'),
    ("bools", json.dumps({"instances": [[True] * 784]}).encode(), 400, "only numbers"),
    ("strings", json.dumps({"instances": [["x"] * 784]}).encode(), 400, "only numbers"),
    ("empty list", b'{"instances": []}', 400, "no image"),
    ("not a list", b'{"instances": 3}', 400, "list of images"),
    ("too many", json.dumps({"instances": [[0] * 784] * 9}).encode(), 413, "at most 8"),
    ("too many columns", json.dumps({"inputs": [[0] * 784] * 9}).encode(), 413, "at most 8"),
]


@pytest.mark.parametrize(
    ("body", "status", "fragment"), [c[1:] for c in TF_CASES], ids=[c[0] for c in TF_CASES]
)
def test_errors(client, body, status, fragment):
    answer = client.post(TF, body, {"Content-Type": "application/json"})
    check_plain_error(answer, status, fragment)
    assert client.model.calls == []


def test_encoded_images_have_their_own_limit(settings):
    """More b64 instances than MAX_ENCODED_IMAGES is a 413 even under a larger MAX_BATCH."""
    model = FakeModel()
    ctx = Context.create(model, settings.__class__(model_uri="x", max_batch=1000))
    app = App(ctx, Router(routing_table(ctx, SERVER_VERSION), model.version))
    instances = [{"b64": "eA=="}] * (MAX_ENCODED_IMAGES + 1)
    answer = call(app, "POST", TF, json.dumps({"instances": instances}).encode())
    check_plain_error(answer, 413, f"at most {MAX_ENCODED_IMAGES} encoded (b64) images")
    assert model.calls == []
