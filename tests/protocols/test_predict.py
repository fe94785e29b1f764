"""``POST /predict`` in-process: JSON (fast and general path), PNG/JPEG and multipart bodies
reach the model as the exact float32 batch, and the answer is the model's."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

import function.protocols.predict as predict_module
from function.inputs.images import image_to_pixels
from tests.protocols.conftest import MAX_BATCH, verifier
from tests.protocols.fake import (
    VERSION,
    digit_png,
    images,
    mnist_like,
    png,
    predicted_digit,
    probabilities,
)

PREDICT = "/predict"
ZEROS = [0.0] * 784


def check_single(answer, sent: np.ndarray) -> dict:
    """A 200 single-image answer for ``sent`` (float32 [784] values), worked out by hand."""
    assert answer.status == 200, answer.body
    assert answer.headers["x-model-version"] == VERSION
    body = answer.json()
    expected = probabilities(sent.reshape(1, 784))
    assert set(body) == {
        "prediction",
        "probabilities",
        "confidence",
        "model_version",
        "prediction_id",
    }
    assert body["prediction"] == int(predicted_digit(sent)[0])
    assert np.array_equal(np.float32(body["probabilities"]), expected)  # the (1, 10) nesting
    assert np.float32(body["confidence"]) == expected[0].max()
    assert body["model_version"] == VERSION
    # a signed id of this prediction, in the body and the header alike
    assert answer.headers["x-prediction-id"] == body["prediction_id"]
    assert verifier().verify(body["prediction_id"]).predicted == body["prediction"]
    return body


def check_batch(answer, sent: np.ndarray) -> dict:
    assert answer.status == 200, answer.body
    body = answer.json()
    assert set(body) == {"predictions", "probabilities", "model_version"}
    assert "x-prediction-id" not in answer.headers  # batches have no id: unchanged
    assert body["predictions"] == predicted_digit(sent).tolist()
    assert np.array_equal(np.float32(body["probabilities"]), probabilities(sent))
    assert body["model_version"] == VERSION
    return body


def check_error(answer, status: int, fragment: str) -> str:
    """A nested-style error (``/predict``'s): code, canonical status and message."""
    assert answer.status == status, answer.body
    assert answer.headers["x-model-version"] == VERSION
    error = answer.json()["error"]
    canonical = {400: "INVALID_ARGUMENT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}
    assert error == {"code": status, "status": canonical[status], "message": error["message"]}
    assert fragment.lower() in error["message"].lower(), error["message"]
    return error["message"]


@pytest.fixture
def fast_path(monkeypatch):
    """The fast parser's verdicts during one test: True when it took the body."""
    verdicts: list[bool] = []
    real = predict_module.flat_images

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        verdicts.append(result is not None)
        return result

    monkeypatch.setattr(predict_module, "flat_images", spy)
    return verdicts


@pytest.mark.parametrize(
    ("shape", "fast"),
    [((784,), True), ((28, 28), False), ((1, 784), False), ((1, 28, 28), False)],
    ids=["flat", "28x28", "1x784", "1x28x28"],
)
def test_single_image_in_every_accepted_shape(client, fast_path, shape, fast):
    x = images(1, seed=7)[0]
    answer = client.post_json(PREDICT, {"image": x.reshape(shape).tolist()})
    check_single(answer, x)
    assert np.array_equal(client.model.batch, x.reshape(1, 784))
    assert client.model.batch.dtype == np.float32
    assert fast_path == [fast]


@pytest.mark.parametrize("n", [1, 3, MAX_BATCH])
@pytest.mark.parametrize("grid", [False, True], ids=["flat", "28x28"])
def test_batch(client, fast_path, n, grid):
    x = images(n, seed=n)
    rows = x.reshape(n, 28, 28) if grid else x
    answer = client.post_json(PREDICT, {"images": rows.tolist()})
    check_batch(answer, x)
    assert np.array_equal(client.model.batch, x)
    assert fast_path == [not grid]


@pytest.mark.parametrize("key", ["image", "images"])
def test_fast_and_general_paths_answer_the_same_bytes(client, fast_path, frozen_ids, key):
    """An extra key sends the same image(s) down the general (orjson) path (the
    prediction ids frozen: same time, same nonce, so the same id)."""
    x = images(4, seed=11)
    value = x[0].tolist() if key == "image" else x.tolist()
    fast = client.post_json(PREDICT, {key: value})
    general = client.post_json(PREDICT, {key: value, "client": "web"})
    assert fast_path == [True, False]
    assert fast.status == general.status == 200
    assert fast.body == general.body
    assert np.array_equal(client.model.calls[0], client.model.calls[1])


@pytest.mark.parametrize("extra", [{}, {"client": "web"}], ids=["fast", "general"])
def test_integer_pixels_are_numbers(client, extra):
    pixels = [0, 1] * 392
    answer = client.post_json(PREDICT, {"image": pixels, **extra})
    check_single(answer, np.float32(pixels))
    assert client.model.batch.tolist() == [[0.0, 1.0] * 392]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "", "APPLICATION/JSON", "a/b+json"],
)
def test_json_content_types(client, content_type):
    x = images(1, seed=3)[0]
    headers = {"Content-Type": content_type} if content_type else {}
    answer = client.post(PREDICT, json.dumps({"image": x.tolist()}).encode(), headers)
    check_single(answer, x)


@pytest.mark.parametrize(
    "payload",
    [{"image": [2.0] * 784}, {"image": [-0.5, *ZEROS[1:]]}, {"images": [ZEROS, [1.5] * 784]}],
    ids=["above", "below", "batch"],
)
def test_range_errors_are_the_same_on_both_paths(client, payload):
    fast = client.post_json(PREDICT, payload)
    general = client.post_json(PREDICT, {**payload, "x": 1})
    message = check_error(fast, 400, "must be in 0..1")
    assert check_error(general, 400, "must be in 0..1") == message
    assert client.model.calls == []


PREDICT_JSON_CASES = [
    ("bad json", b'{"image": [0.1, ', 400, "not valid JSON"),
    ("empty body", b"", 400, "empty"),
    ("a list", b"[1, 2]", 400, '"image" or "images"'),
    ("a number", b"3", 400, '"image" or "images"'),
    ("no image", b'{"picture": []}', 400, '"image" or "images"'),
    ("null image", b'{"image": null}', 400, '"image" or "images"'),
    ("both", json.dumps({"image": ZEROS, "images": [ZEROS]}).encode(), 400, "not both"),
    ("short", b'{"image": [0.5, 0.5]}', 400, "shape [2]"),
    ("785", json.dumps({"image": [*ZEROS, 0.0]}).encode(), 400, "shape [785]"),
    ("28x27", json.dumps({"image": [[0.0] * 27] * 28}).encode(), 400, "shape [28, 27]"),
    ("3d", json.dumps({"image": [[ZEROS]] * 2}).encode(), 400, "shape [2, 1, 784]"),
    ("strings", json.dumps({"image": ["0.5"] * 784}).encode(), 400, "only numbers"),
    ("bools", json.dumps({"image": [True] * 784}).encode(), 400, "only numbers"),
    ("null pixels", json.dumps({"image": [None] * 784}).encode(), 400, "only numbers"),
    ("objects", json.dumps({"images": [[{"a": 1}] * 784]}).encode(), 400, "only numbers"),
    ("scalar", b'{"image": 0.5}', 400, "array of numbers"),
    ("object image", b'{"image": {"b64": "eA=="}}', 400, "array of numbers"),
    ("huge int", json.dumps({"image": [10**40] * 784}).encode(), 400, "0..1"),
    ("above 1", json.dumps({"image": [2.0] * 784}).encode(), 400, "0..1"),
    ("negative", json.dumps({"image": [-0.1, *ZEROS[1:]]}).encode(), 400, "0..1"),
    ("infinity literal", b'{"image": [1e999]}', 400, "not valid JSON"),
    ("NaN literal", b'{"image": [NaN]}', 400, "not valid JSON"),
    ("ragged batch", json.dumps({"images": [ZEROS, ZEROS[:5]]}).encode(), 400, "rectangular"),
    ("empty batch", b'{"images": []}', 400, "holds no image"),
    ("batch shape", json.dumps({"images": [[0.1] * 10]}).encode(), 400, "shape [1, 10]"),
    ("batch not a list", b'{"images": 5}', 400, "array of numbers"),
    ("over max batch", json.dumps({"images": [ZEROS] * 9}).encode(), 413, "at most 8"),
    ("over max batch 28x28", json.dumps({"images": [[[0] * 28] * 28] * 9}).encode(), 413, "9"),
    ("binary junk", b"\xff\xfe\x00", 400, "not valid JSON"),
]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [c[1:] for c in PREDICT_JSON_CASES],
    ids=[c[0] for c in PREDICT_JSON_CASES],
)
def test_bad_json_is_refused_before_the_model(client, body, status, fragment):
    answer = client.post(PREDICT, body, {"Content-Type": "application/json"})
    check_error(answer, status, fragment)
    assert client.model.calls == []


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "image/gif", "application/octet-stream"]
)
def test_unsupported_content_type_is_415_without_reading(client, content_type):
    answer = client.post(PREDICT, b"image=1", {"Content-Type": content_type})
    message = check_error(answer, 415, repr(content_type))
    assert "application/json, image/png, image/jpeg or multipart/form-data" in message
    assert answer.received == 0


@pytest.mark.parametrize("content_type", ["image/png", "image/PNG", "image/png; q=1"])
@pytest.mark.parametrize("cuts", [0, 1, 2])
def test_png_body(client, content_type, cuts):
    """An MNIST-style 28x28 digit comes back as itself from the preprocessing."""
    x = mnist_like(cuts)
    data = digit_png(x)
    answer = client.post(PREDICT, data, {"Content-Type": content_type})
    check_single(answer, x)
    assert answer.json()["prediction"] == (8, 0, 2)[cuts]
    assert np.array_equal(client.model.batch, image_to_pixels(data).reshape(1, 784))
    assert np.abs(client.model.batch - x).max() < 1e-6


def test_a_photo_is_preprocessed_before_the_model(client):
    """Dark ink on white, enlarged, off-centre: the model gets image_to_pixels' layout."""
    ring = Image.fromarray(np.uint8(255 - mnist_like().reshape(28, 28) * 255))
    ink = ring.resize((84, 84), Image.Resampling.NEAREST)
    gray = np.pad(np.asarray(ink), ((5, 30), (25, 3)), constant_values=255)
    data = png(gray)
    answer = client.post(PREDICT, data, {"Content-Type": "image/png"})
    pixels = image_to_pixels(data)
    check_single(answer, pixels)
    assert np.array_equal(client.model.batch, pixels.reshape(1, 784))
    assert answer.json()["prediction"] == 8
    assert np.abs(pixels - mnist_like()).mean() < 0.1  # back in the 28x28 layout


def test_jpeg_body(client):
    x = mnist_like()
    buffer = io.BytesIO()
    Image.fromarray(np.uint8(x.reshape(28, 28) * 255)).save(buffer, "JPEG", quality=95)
    answer = client.post(PREDICT, buffer.getvalue(), {"Content-Type": "image/jpeg"})
    pixels = image_to_pixels(buffer.getvalue())
    check_single(answer, pixels)
    assert np.array_equal(client.model.batch, pixels.reshape(1, 784))
    assert answer.json()["prediction"] == 8
    assert np.abs(pixels - x).mean() < 0.1


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\x89PNG not really", "not a readable"),
        (digit_png(images(1, seed=1)[0])[:-30], "truncated"),
        (b"", "not a readable"),
    ],
    ids=["garbage", "truncated", "empty"],
)
def test_unusable_png_is_400(client, data, fragment):
    check_error(client.post(PREDICT, data, {"Content-Type": "image/png"}), 400, fragment)
    assert client.model.calls == []


def multipart(fields: list[tuple[str, str | None, bytes]], boundary: str = "b0undary") -> bytes:
    """A multipart/form-data body: (field name, file name or None, content) per part."""
    parts = []
    for name, filename, content in fields:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if filename is not None:
            head += "Content-Type: image/png\r\n"
        parts.append(head.encode() + b"\r\n" + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


MULTIPART = {"Content-Type": "multipart/form-data; boundary=b0undary"}


def test_multipart_image_field(client):
    x = mnist_like(cuts=1)
    data = digit_png(x)
    body = multipart([("note", None, b"hello"), ("image", "digit.png", data)])
    answer = client.post(PREDICT, body, MULTIPART)
    check_single(answer, x)
    assert np.array_equal(client.model.batch, image_to_pixels(data).reshape(1, 784))


@pytest.mark.parametrize(
    ("body", "headers", "fragment"),
    [
        (multipart([("picture", "a.png", b"x")]), MULTIPART, 'no field "image"'),
        (multipart([("image", None, b"not a file")]), MULTIPART, "must be a file"),
        (multipart([("image", "a.png", b"not a png")]), MULTIPART, "not a readable"),
        (b"--x\r\n", {"Content-Type": "multipart/form-data"}, "multipart"),
    ],
    ids=["no image field", "text field", "not an image", "no boundary"],
)
def test_multipart_errors(client, body, headers, fragment):
    check_error(client.post(PREDICT, body, headers), 400, fragment)
    assert client.model.calls == []
