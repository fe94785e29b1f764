"""Every error the real server promises: the right status, a JSON body in the called
protocol's shape, the model version header, never a traceback or a 500 for bad input."""

from __future__ import annotations

import base64
import json
import socket
import struct
import time

import numpy as np
import pytest
import requests

from tests.function.helpers import encode, v2_binary_body

pytestmark = pytest.mark.slow

PREDICT = "/predict"
TF = "/v1/models/mnist:predict"
INFER = "/v2/models/mnist/infer"
ZEROS = [0.0] * 784


def check_error(response, status: int, style: str, manifest: dict, fragment: str = "") -> str:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Model-Version"] == manifest["version"]
    body = response.json()
    if style == "plain":
        assert set(body) == {"error"} and isinstance(body["error"], str)
        message = body["error"]
    else:
        assert body["error"]["code"] == status
        message = body["error"]["message"]
    assert "Traceback" not in response.text
    assert fragment.lower() in message.lower(), message
    return message


PREDICT_JSON_CASES = [
    ("bad json", b'{"image": [0.1, ', 400, "not valid JSON"),
    ("empty body", b"", 400, "empty"),
    ("a list", b"[1, 2]", 400, '"image" or "images"'),
    ("no image", b'{"picture": []}', 400, '"image" or "images"'),
    ("both", json.dumps({"image": ZEROS, "images": [ZEROS]}).encode(), 400, "not both"),
    ("short", b'{"image": [0.5, 0.5]}', 400, "shape [2]"),
    ("3d", json.dumps({"image": [[ZEROS]] * 2}).encode(), 400, "shape"),
    ("strings", json.dumps({"image": ["0.5"] * 784}).encode(), 400, "only numbers"),
    ("bools", json.dumps({"image": [True] * 784}).encode(), 400, "only numbers"),
    ("null", json.dumps({"image": [None] * 784}).encode(), 400, "only numbers"),
    ("scalar", b'{"image": 0.5}', 400, "array of numbers"),
    ("above 1", json.dumps({"image": [2.0] * 784}).encode(), 400, "0..1"),
    ("negative", json.dumps({"image": [-0.1, *ZEROS[1:]]}).encode(), 400, "0..1"),
    ("infinity literal", b'{"image": [1e999]}', 400, "not valid JSON"),
    ("NaN literal", b'{"image": [NaN]}', 400, "not valid JSON"),
    ("ragged batch", json.dumps({"images": [ZEROS, ZEROS[:5]]}).encode(), 400, "rectangular"),
    ("empty batch", b'{"images": []}', 400, "no image"),
    ("batch shape", json.dumps({"images": [[0.1] * 10]}).encode(), 400, "shape [1, 10]"),
]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [c[1:] for c in PREDICT_JSON_CASES],
    ids=[c[0] for c in PREDICT_JSON_CASES],
)
def test_predict_rejects_bad_json(server, http, manifest, conforms, body, status, fragment):
    response = http.post(
        f"{server.url}{PREDICT}",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    check_error(response, status, "nested", manifest, fragment)
    conforms(PREDICT, "POST", response)


def test_predict_batch_over_max_batch_is_413(server, http, manifest, conforms):
    body = json.dumps({"images": [[0] * 784] * 1025}).encode()
    response = http.post(f"{server.url}{PREDICT}", data=body, timeout=10)
    check_error(response, 413, "nested", manifest, "at most 1024")
    conforms(PREDICT, "POST", response)


def test_unsupported_media_types_are_415(server, http, manifest, conforms):
    response = http.post(
        f"{server.url}{PREDICT}", data=b"image=1", headers={"Content-Type": "text/plain"}, timeout=5
    )
    check_error(response, 415, "nested", manifest, "text/plain")
    conforms(PREDICT, "POST", response)
    gzipped = http.post(
        f"{server.url}{INFER}",
        data=b"\x1f\x8b...",
        headers={"Content-Encoding": "gzip"},
        timeout=5,
    )
    check_error(gzipped, 415, "plain", manifest, "gzip")


IMAGE_CASES = [
    ("garbage png", "image/png", b"\x89PNG not really", 400, "not a readable"),
    ("text as jpeg", "image/jpeg", b"hello", 400, "not a readable"),
    ("truncated png", "image/png", None, 400, "truncated"),
    ("blank", "image/png", encode(np.full((40, 40), 255, np.uint8), "PNG"), 400, "blank"),
    ("huge", "image/png", encode(np.zeros((5000, 4000), np.uint8), "PNG"), 400, "at most"),
]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "fragment"),
    [c[1:] for c in IMAGE_CASES],
    ids=[c[0] for c in IMAGE_CASES],
)
def test_predict_rejects_unusable_images(
    server, http, manifest, digits, content_type, body, status, fragment
):
    if body is None:
        body = encode(np.round(digits[0][0].reshape(28, 28) * 255).astype(np.uint8), "PNG")[:-30]
    response = http.post(
        f"{server.url}{PREDICT}", data=body, headers={"Content-Type": content_type}, timeout=5
    )
    check_error(response, status, "nested", manifest, fragment)


def test_predict_multipart_errors(server, http, manifest):
    missing = http.post(
        f"{server.url}{PREDICT}", files={"picture": ("a.png", b"x", "image/png")}, timeout=5
    )
    check_error(missing, 400, "nested", manifest, 'no field "image"')
    text_field = http.post(
        f"{server.url}{PREDICT}", files={"image": (None, "not a file")}, timeout=5
    )
    check_error(text_field, 400, "nested", manifest, "must be a file")
    no_boundary = http.post(
        f"{server.url}{PREDICT}",
        data=b"--x\r\n",
        headers={"Content-Type": "multipart/form-data"},
        timeout=5,
    )
    check_error(no_boundary, 400, "nested", manifest, "multipart")


TF_CASES = [
    ("bad json", b"{", 400, "not valid JSON"),
    ("no key", b'{"data": []}', 400, '"instances"'),
    ("both keys", json.dumps({"instances": [ZEROS], "inputs": [ZEROS]}).encode(), 400, "not both"),
    ("signature", json.dumps({"signature_name": "x", "instances": [ZEROS]}).encode(), 400, "'x'"),
    ("bad b64", json.dumps({"instances": [{"b64": "!!!notbase64"}]}).encode(), 400, "b64"),
    ("b64 not str", json.dumps({"instances": [{"b64": 5}]}).encode(), 400, "base64 string"),
    ("input name", json.dumps({"instances": [{"pixels": ZEROS}]}).encode(), 400, "'image'"),
    ("range", json.dumps({"instances": [[3.0] * 784]}).encode(), 400, "0..1"),
    ("shape", json.dumps({"instances": [[0.1] * 3]}).encode(), 400, "shape"),
    ("mixed", json.dumps({"instances": [ZEROS, {"b64": 1}]}).encode(), 400, "instances"),
    ("empty", b'{"instances": []}', 400, "no image"),
    ("not a list", b'{"instances": 3}', 400, "list of images"),
    ("too many", json.dumps({"instances": [[0] * 784] * 1025}).encode(), 413, "at most"),
]


@pytest.mark.parametrize(
    ("body", "status", "fragment"), [c[1:] for c in TF_CASES], ids=[c[0] for c in TF_CASES]
)
def test_tfserving_errors(server, http, manifest, conforms, body, status, fragment):
    response = http.post(f"{server.url}{TF}", data=body, timeout=10)
    check_error(response, status, "plain", manifest, fragment)
    conforms(TF, "POST", response)


def v2_json(**tensor):
    request = {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", **tensor}]}
    if "data" not in tensor and "parameters" not in tensor:
        request["inputs"][0]["data"] = ZEROS
    return json.dumps(request).encode()


V2_CASES = [
    ("bad json", b"{", {}, 400, "not valid JSON"),
    ("no inputs", b"{}", {}, 400, '"inputs"'),
    ("two inputs", json.dumps({"inputs": [{}, {}]}).encode(), {}, 400, "exactly one"),
    ("input name", v2_json(name="x"), {}, 400, "unexpected inference input 'x'"),
    ("datatype", v2_json(datatype="FP64"), {}, 400, "FP32 or UINT8"),
    ("shape", v2_json(shape=[1, 100]), {}, 400, "shape"),
    ("shape type", v2_json(shape="1x784"), {}, 400, "shape"),
    ("zero batch", v2_json(shape=[0, 784], data=[]), {}, 400, "no image"),
    ("data size", v2_json(shape=[2, 784]), {}, 400, "needs 1568"),
    ("no data", v2_json(parameters={}), {}, 400, "neither"),
    ("strings", v2_json(data=["a"] * 784), {}, 400, "only numbers"),
    ("range", v2_json(data=[1.5] * 784), {}, 400, "0..1"),
    ("uint8 range", v2_json(datatype="UINT8", data=[300] * 784), {}, 400, "0..255"),
    ("uint8 floats", v2_json(datatype="UINT8", data=[0.5] * 784), {}, 400, "integers"),
    (
        "output name",
        json.dumps(
            {
                "inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": ZEROS}],
                "outputs": [{"name": "logits"}],
            }
        ).encode(),
        {},
        400,
        "unexpected inference output 'logits'",
    ),
    ("too many", v2_json(shape=[1025, 784]), {}, 413, "at most 1024"),
    (
        "header length",
        v2_json(),
        {"Inference-Header-Content-Length": "999999"},
        400,
        "does not fit",
    ),
    ("header length nan", v2_json(), {"Inference-Header-Content-Length": "x"}, 400, "not a number"),
]


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [c[1:] for c in V2_CASES],
    ids=[c[0] for c in V2_CASES],
)
def test_v2_errors(server, http, manifest, conforms, body, headers, status, fragment):
    response = http.post(f"{server.url}{INFER}", data=body, headers=headers, timeout=5)
    check_error(response, status, "plain", manifest, fragment)
    conforms(INFER, "POST", response)


@pytest.mark.parametrize(("value", "fragment"), [(np.nan, "NaN"), (np.inf, "infinity")])
def test_v2_binary_non_finite_is_400(server, http, manifest, digits, value, fragment):
    images = digits[0][:2].copy()
    images[1, 100] = value
    body, headers = v2_binary_body(images)
    response = http.post(f"{server.url}{INFER}", data=body, headers=headers, timeout=5)
    check_error(response, 400, "plain", manifest, fragment)


def test_v2_binary_size_mismatch_is_400(server, http, manifest, digits):
    body, headers = v2_binary_body(digits[0][:2])
    short = http.post(f"{server.url}{INFER}", data=body[:-4], headers=headers, timeout=5)
    check_error(short, 400, "plain", manifest, "binary_data_size")
    extra = http.post(
        f"{server.url}{INFER}",
        data=v2_json() + b"\x00" * 8,
        headers={"Inference-Header-Content-Length": str(len(v2_json()))},
        timeout=5,
    )
    check_error(extra, 400, "plain", manifest, "unused")


NOT_FOUND = [
    ("GET", "/nowhere", "nested", "no route"),
    ("GET", "/index.html", "nested", "no route"),
    ("GET", "/static/nothing.js", "nested", "no static file 'nothing.js'"),
    ("POST", "/v1/models/other:predict", "plain", "'other'"),
    ("GET", "/v1/models/mnist/labels", "plain", "no route"),
    ("GET", "/v2/models/other", "plain", "unknown model"),
    ("POST", "/v2/models/other/infer", "plain", "unknown model"),
    ("GET", "/v2/models/mnist/versions/1/ready", "plain", "no version '1'"),
    ("POST", "/v2/models/mnist/versions/1/infer", "plain", "no version '1'"),
    ("GET", "/v2/models/mnist/stats", "plain", "no route"),
    ("GET", "/v2/health/startup", "plain", "no route"),
]


@pytest.mark.parametrize(("method", "path", "style", "fragment"), NOT_FOUND)
def test_unknown_paths_are_404(server, http, manifest, method, path, style, fragment):
    response = http.request(method, f"{server.url}{path}", timeout=5)
    check_error(response, 404, style, manifest, fragment)


@pytest.mark.parametrize(
    ("method", "path", "style", "allow"),
    [
        ("GET", PREDICT, "nested", "POST"),
        ("PUT", "/openapi.json", "nested", "GET, HEAD"),
        ("GET", TF, "plain", "POST"),
        ("POST", "/v1/models/mnist", "plain", "GET, HEAD"),
        ("DELETE", "/v2/health/ready", "plain", "GET, HEAD"),
        ("GET", INFER, "plain", "POST"),
        ("OPTIONS", INFER, "plain", "POST"),
    ],
)
def test_wrong_method_is_405(server, http, manifest, method, path, style, allow):
    response = http.request(method, f"{server.url}{path}", timeout=5)
    check_error(response, 405, style, manifest, method)
    assert response.headers["Allow"] == allow


def test_body_over_limit_is_refused_from_content_length(server, http, manifest, conforms):
    body = b"[" + b"0," * (2 * 1024 * 1024) + b"0]"  # ~4 MiB + 3 bytes
    response = http.post(
        f"{server.url}{PREDICT}",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    check_error(response, 413, "nested", manifest, "MAX_BODY_BYTES")
    conforms(PREDICT, "POST", response)
    tf = http.post(f"{server.url}{TF}", data=body, timeout=10)
    check_error(tf, 413, "plain", manifest, "MAX_BODY_BYTES")


def test_body_over_limit_is_refused_while_streaming(server, manifest):
    """A chunked upload with no Content-Length is cut off once it passes the limit: the
    413 arrives while the client still has most of its (8 MiB) body to send."""
    host, port = "127.0.0.1", server.port
    chunk = b"0," * 32768  # 64 KiB
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(
            b"POST /v2/models/mnist/infer HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        answer = b""
        sock.settimeout(0.002)
        deadline = time.monotonic() + 20
        while sent < 8 * 1024 * 1024 and time.monotonic() < deadline:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except OSError:
                break  # the server closed the connection after answering
            try:
                answer += sock.recv(65536)
                if b"\r\n\r\n" in answer:
                    break
            except TimeoutError:
                continue
        sock.settimeout(5)
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 6 * 1024 * 1024, f"the server read {sent} bytes before refusing"
    assert manifest["version"].encode() in answer


def test_b64_and_struct_payload_errors_never_500(server, http):
    """A few hostile payloads: nested objects, huge numbers, binary junk."""
    payloads = [
        json.dumps({"image": {"b64": base64.b64encode(b"x").decode()}}).encode(),
        json.dumps({"image": [10**40] * 784}).encode(),
        json.dumps({"images": [[{"a": 1}] * 784]}).encode(),
        struct.pack("<100f", *range(100)),
        b"\xff\xfe\x00",
    ]
    for payload in payloads:
        for path in (PREDICT, TF, INFER):
            response = http.post(
                f"{server.url}{path}",
                data=payload,
                headers={"Content-Type": "application/json"},
                timeout=5,
            )
            assert response.status_code == 400, (path, payload[:40], response.text)


def test_server_survives_the_error_barrage(server, http):
    assert http.get(f"{server.url}/v2/health/ready", timeout=5).status_code == 200
    assert requests.get(f"{server.url}/v2/health/live", timeout=5).status_code == 200
