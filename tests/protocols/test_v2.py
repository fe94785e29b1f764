"""Open Inference Protocol V2 in-process: JSON and binary tensors in FP32 and UINT8, binary
and selected outputs, the metadata and health bodies, and the plain error answers."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from client.v2 import binary_request, read_outputs
from function.contract.spec import PREDICTION_OUTPUT, SPEC, V2_DATATYPES
from function.protocols.v2 import input_datatypes, model_metadata
from tests.protocols.conftest import MAX_BATCH, SERVER_VERSION
from tests.protocols.fake import VERSION, images, predicted_digit, probabilities, raw_images

V2 = "/v2/models/mnist"
INFER = f"{V2}/infer"
PREFIXES = [V2, f"{V2}/versions/{VERSION}"]
ZEROS = [0.0] * 784


def infer_json(tensor: dict, **request) -> bytes:
    return json.dumps({"inputs": [{"name": "image", **tensor}], **request}).encode()


def outputs_of(answer) -> dict[str, np.ndarray]:
    assert answer.status == 200, answer.body
    assert answer.headers["x-model-version"] == VERSION
    return read_outputs(answer.body, answer.headers)


def header_of(answer) -> dict:
    length = answer.headers.get("inference-header-content-length")
    return json.loads(answer.body[: int(length)] if length else answer.body)


def check_outputs(answer, sent: np.ndarray) -> dict[str, np.ndarray]:
    """Both outputs equal the fake model's answer for ``sent`` (float32 [N, 784])."""
    outputs = outputs_of(answer)
    assert list(outputs) == [SPEC.output.name, PREDICTION_OUTPUT]
    assert outputs["probabilities"].dtype == np.float32
    assert np.array_equal(outputs["probabilities"], probabilities(sent))
    assert outputs["prediction"].dtype == np.int64
    assert np.array_equal(outputs["prediction"], predicted_digit(sent))
    return outputs


@pytest.mark.parametrize("prefix", PREFIXES, ids=["model", "versioned"])
@pytest.mark.parametrize(
    "layout",
    ["nested [N, 784]", "flat [N, 784]", "flat [N, 28, 28]", "nested [N, 28, 28]"],
)
def test_json_fp32(client, prefix, layout):
    x = images(3, seed=40)
    grid = "28, 28" in layout
    shape = [3, 28, 28] if grid else [3, 784]
    data = x.reshape(shape) if layout.startswith("nested") else x.ravel()
    body = infer_json({"shape": shape, "datatype": "FP32", "data": data.tolist()}, id="req-42")
    answer = client.post(f"{prefix}/infer", body, {"Content-Type": "application/json"})
    check_outputs(answer, x)
    header = header_of(answer)
    assert header["id"] == "req-42"
    assert header["model_name"] == "mnist"
    assert header["model_version"] == VERSION
    assert [o["shape"] for o in header["outputs"]] == [[3, 10], [3]]
    assert [o["datatype"] for o in header["outputs"]] == ["FP32", "INT64"]
    assert answer.headers["content-type"] == "application/json"
    assert np.array_equal(client.model.batch, x)


@pytest.mark.parametrize("shape", [[4, 784], [4, 28, 28]])
def test_json_uint8_is_scaled_by_the_spec(client, shape):
    raw = raw_images(4, seed=41)
    body = infer_json({"shape": shape, "datatype": "UINT8", "data": raw.ravel().tolist()})
    answer = client.post(INFER, body)
    scaled = SPEC.input.scale(raw)
    check_outputs(answer, scaled)
    assert client.model.batch.dtype == np.float32
    assert np.array_equal(client.model.batch, scaled)
    assert np.array_equal(client.model.batch, raw.astype(np.float32) / np.float32(255))
    assert client.model.batch.min() == 0.0 and client.model.batch.max() == 1.0


def test_json_fp32_integers(client):
    data = [0, 1] * 392
    answer = client.post(INFER, infer_json({"shape": [1, 784], "datatype": "FP32", "data": data}))
    check_outputs(answer, np.float32([data]))


@pytest.mark.parametrize("datatype", ["FP32", "UINT8"])
@pytest.mark.parametrize("grid", [False, True], ids=["[N, 784]", "[N, 28, 28]"])
@pytest.mark.parametrize("n", [1, MAX_BATCH])
def test_binary_input(client, datatype, grid, n):
    raw = raw_images(n, seed=42)
    sent = images(n, seed=42) if datatype == "FP32" else raw
    body, headers = binary_request(sent.reshape(n, 28, 28) if grid else sent, datatype)
    answer = client.post(INFER, body, headers)
    expected = sent if datatype == "FP32" else SPEC.input.scale(raw)
    check_outputs(answer, expected)
    assert np.array_equal(client.model.batch, expected)
    assert answer.headers["content-type"] == "application/json"  # JSON outputs by default


BINARY_OUTPUTS = {
    "per output": (
        {
            "outputs": [
                {"name": "probabilities", "parameters": {"binary_data": True}},
                {"name": "prediction", "parameters": {"binary_data": False}},
            ]
        },
        {"probabilities": True, "prediction": False},
    ),
    "per request": (
        {"parameters": {"binary_data_output": True}},
        {"probabilities": True, "prediction": True},
    ),
    "per output overrides the request": (
        {
            "parameters": {"binary_data_output": True},
            "outputs": [
                {"name": "probabilities"},
                {"name": "prediction", "parameters": {"binary_data": False}},
            ],
        },
        {"probabilities": True, "prediction": False},
    ),
    "prediction only": (
        {"outputs": [{"name": "prediction", "parameters": {"binary_data": True}}]},
        {"prediction": True},
    ),
}


@pytest.mark.parametrize("case", list(BINARY_OUTPUTS))
@pytest.mark.parametrize("binary_in", [False, True], ids=["json in", "binary in"])
def test_binary_outputs(client, case, binary_in):
    request, binary = copy.deepcopy(BINARY_OUTPUTS[case])
    x = images(5, seed=43)
    if binary_in:
        body, headers = binary_request(x, "FP32", outputs=request.pop("outputs", None), **request)
    else:
        body = infer_json({"shape": [5, 784], "datatype": "FP32", "data": x.tolist()}, **request)
        headers = {}
    answer = client.post(INFER, body, headers)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "application/octet-stream"
    length = int(answer.headers["inference-header-content-length"])
    header = json.loads(answer.body[:length])
    entries = {o["name"]: o for o in header["outputs"]}
    assert list(entries) == list(binary)
    sizes = {"probabilities": 5 * 10 * 4, "prediction": 5 * 8}
    for name, is_binary in binary.items():
        if is_binary:
            assert "data" not in entries[name]
            assert entries[name]["parameters"] == {"binary_data_size": sizes[name]}
        else:
            assert "parameters" not in entries[name]
    assert len(answer.body) == length + sum(sizes[n] for n, b in binary.items() if b)
    outputs = read_outputs(answer.body, answer.headers)
    expected = {"probabilities": probabilities(x), "prediction": predicted_digit(x)}
    for name in binary:
        assert np.array_equal(outputs[name], expected[name]), name
    if binary.get("probabilities"):  # little-endian float32 right after the header
        blob = np.frombuffer(answer.body[length : length + sizes["probabilities"]], "<f4")
        assert np.array_equal(blob.reshape(5, 10), probabilities(x))


@pytest.mark.parametrize(
    "names",
    [["prediction"], ["probabilities"], ["prediction", "probabilities"]],
    ids=["prediction", "probabilities", "reversed"],
)
def test_requested_outputs_in_their_order(client, names):
    x = images(2, seed=44)
    request = {"outputs": [{"name": n} for n in names]}
    body = infer_json({"shape": [2, 784], "datatype": "FP32", "data": x.tolist()}, **request)
    answer = client.post(INFER, body)
    header = header_of(answer)
    assert [o["name"] for o in header["outputs"]] == names
    outputs = outputs_of(answer)
    if "prediction" in names:
        assert header["outputs"][names.index("prediction")]["data"] == predicted_digit(x).tolist()
    if "probabilities" in names:
        assert np.array_equal(outputs["probabilities"], probabilities(x))


@pytest.mark.parametrize("request_id", ["abc", "", "ünïcode id"])
def test_id_is_echoed(client, request_id):
    body = infer_json({"shape": [1, 784], "datatype": "FP32", "data": ZEROS}, id=request_id)
    header = header_of(client.post(INFER, body))
    assert "id" in header and header["id"] == request_id


def test_without_an_id_the_answer_has_none(client):
    header = header_of(
        client.post(INFER, infer_json({"shape": [1, 784], "datatype": "FP32", "data": ZEROS}))
    )
    assert "id" not in header
    assert list(header) == ["model_name", "model_version", "outputs"]


@pytest.mark.parametrize("prefix", PREFIXES, ids=["model", "versioned"])
def test_model_metadata_and_ready(client, prefix):
    meta = client.get(prefix)
    assert meta.status == 200
    body = meta.json()
    assert body == model_metadata(VERSION, SPEC)
    assert body["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 784]}]
    assert body["outputs"] == [
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
        {"name": "prediction", "datatype": "INT64", "shape": [-1]},
    ]
    assert body["versions"] == [VERSION]
    assert client.get(f"{prefix}/ready").json() == {"name": "mnist", "ready": True}


def test_input_datatypes_come_from_the_spec():
    assert input_datatypes(SPEC) == {"FP32": "float32", "UINT8": "uint8"}
    assert V2_DATATYPES[SPEC.input.raw_dtype] == "UINT8"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/v2",
            {"name": "digitrun", "version": SERVER_VERSION, "extensions": ["binary_tensor_data"]},
        ),
        ("/v2/health/live", {"live": True}),
        ("/v2/health/ready", {"ready": True}),
    ],
)
def test_server_metadata_and_health(client, path, expected):
    answer = client.get(path)
    assert answer.status == 200
    assert answer.headers["x-model-version"] == VERSION
    assert answer.json() == expected


def tensor_json(**tensor):
    fields = {"name": "image", "shape": [1, 784], "datatype": "FP32", **tensor}
    if "data" not in tensor and "parameters" not in tensor:
        fields["data"] = ZEROS
    return json.dumps({"inputs": [fields]}).encode()


def with_outputs(outputs, **request) -> bytes:
    fields = {"name": "image", "shape": [1, 784], "datatype": "FP32", "data": ZEROS}
    return json.dumps({"inputs": [fields], "outputs": outputs, **request}).encode()


V2_CASES = [
    ("bad json", b"{", {}, "not valid JSON"),
    ("empty", b"", {}, "empty"),
    ("a list", b"[]", {}, "must be a JSON object"),
    ("no inputs", b"{}", {}, '"inputs" must list exactly one'),
    ("inputs not a list", b'{"inputs": {}}', {}, '"inputs" must list exactly one'),
    ("two inputs", json.dumps({"inputs": [{}, {}]}).encode(), {}, "exactly one"),
    ("input not an object", b'{"inputs": [5]}', {}, "exactly one"),
    ("input name", tensor_json(name="x"), {}, "unexpected inference input 'x'"),
    ("datatype", tensor_json(datatype="FP64"), {}, "'FP64': send FP32 or UINT8"),
    ("datatype lower case", tensor_json(datatype="fp32"), {}, "send FP32 or UINT8"),
    ("datatype missing", tensor_json(datatype=None), {}, "None: send FP32 or UINT8"),
    ("shape", tensor_json(shape=[1, 100]), {}, "shape [1, 100]: expected [N, 784]"),
    ("shape string", tensor_json(shape="1x784"), {}, "shape '1x784'"),
    ("shape floats", tensor_json(shape=[1.0, 784]), {}, "shape [1.0, 784]"),
    ("shape bools", tensor_json(shape=[True, 784]), {}, "shape [True, 784]"),
    ("shape empty", tensor_json(shape=[]), {}, "shape []"),
    ("zero batch", tensor_json(shape=[0, 784], data=[]), {}, "no image"),
    ("negative batch", tensor_json(shape=[-1, 784]), {}, "no image"),
    ("data size", tensor_json(shape=[2, 784]), {}, "has 784 values, but shape [2, 784] needs 1568"),
    ("no data", tensor_json(parameters={}), {}, "neither"),
    ("data not a list", tensor_json(data=0.5), {}, "array of numbers"),
    ("strings", tensor_json(data=["a"] * 784), {}, "only numbers"),
    ("bools", tensor_json(data=[False] * 784), {}, "only numbers"),
    ("range", tensor_json(data=[1.5] * 784), {}, "0..1"),
    ("uint8 range", tensor_json(datatype="UINT8", data=[300] * 784), {}, "0..255 (found 300..300)"),
    ("uint8 negative", tensor_json(datatype="UINT8", data=[-1] * 784), {}, "0..255"),
    ("uint8 floats", tensor_json(datatype="UINT8", data=[0.5] * 784), {}, "integers"),
    ("output name", with_outputs([{"name": "logits"}]), {}, "unexpected inference output 'logits'"),
    ("output not object", with_outputs(["prediction"]), {}, "unexpected inference output None"),
    ("outputs empty", with_outputs([]), {}, '"outputs" must be a non-empty list'),
    ("outputs object", with_outputs({"name": "prediction"}), {}, "non-empty list"),
    (
        "output parameters",
        with_outputs([{"name": "prediction", "parameters": [1]}]),
        {},
        '"parameters" must be an object',
    ),
    (
        "classification",
        with_outputs([{"name": "probabilities", "parameters": {"classification": 3}}]),
        {},
        "classification extension",
    ),
    ("too many", tensor_json(shape=[MAX_BATCH + 1, 784]), {}, "holds 9 images: at most 8"),
    (
        "header too long",
        tensor_json(),
        {"Inference-Header-Content-Length": "999999"},
        "does not fit",
    ),
    ("header zero", tensor_json(), {"Inference-Header-Content-Length": "0"}, "does not fit"),
    ("header negative", tensor_json(), {"Inference-Header-Content-Length": "-5"}, "does not fit"),
    ("header nan", tensor_json(), {"Inference-Header-Content-Length": "x"}, "not a number"),
    ("header short", tensor_json(), {"Inference-Header-Content-Length": "10"}, "not valid JSON"),
]


@pytest.mark.parametrize(
    ("body", "headers", "fragment"), [c[1:] for c in V2_CASES], ids=[c[0] for c in V2_CASES]
)
def test_errors(client, body, headers, fragment):
    answer = client.post(INFER, body, headers)
    expected = 413 if "at most" in fragment else 400
    assert answer.status == expected, answer.body
    assert answer.headers["x-model-version"] == VERSION
    error = answer.json()
    assert set(error) == {"error"}
    assert fragment.lower() in error["error"].lower(), error["error"]
    if b'"outputs"' not in body:  # (the outputs are read after the model ran)
        assert client.model.calls == []


def binary_mismatch(kind: str) -> tuple[bytes, dict[str, str]]:
    x = images(2, seed=45)
    body, headers = binary_request(x)
    length = int(headers["Inference-Header-Content-Length"])
    header = json.loads(body[:length])
    if kind == "short":
        return body[:-4], headers
    if kind == "long":
        return body + b"\x00" * 4, headers
    size = {"wrong size": 3136, "string size": "6272", "float size": 6272.0, "bool size": True}
    header["inputs"][0]["parameters"]["binary_data_size"] = size[kind]
    new = json.dumps(header).encode()
    return new + body[length:], {**headers, "Inference-Header-Content-Length": str(len(new))}


@pytest.mark.parametrize(
    "kind", ["short", "long", "wrong size", "string size", "float size", "bool size"]
)
def test_binary_size_mismatch(client, kind):
    body, headers = binary_mismatch(kind)
    error = client.post(INFER, body, headers).json()["error"]
    assert "binary_data_size" in error and "needs 6272 bytes" in error, error
    assert client.model.calls == []


def test_unused_binary_bytes(client):
    header = tensor_json()
    body = header + b"\x00" * 8
    answer = client.post(INFER, body, {"Inference-Header-Content-Length": str(len(header))})
    assert answer.status == 400
    assert answer.json() == {"error": "8 binary bytes follow the header unused"}


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_binary_non_finite(client, value):
    x = images(2, seed=46)
    x[1, 100] = value
    body, headers = binary_request(x)
    answer = client.post(INFER, body, headers)
    assert answer.status == 400
    assert answer.json() == {"error": "input 'image' holds NaN or infinity"}
    assert client.model.calls == []


@pytest.mark.parametrize(
    "outputs",
    [[{"name": "logits"}], "probabilities", [], [{"name": "prediction", "parameters": 3}]],
    ids=["unknown name", "not a list", "empty", "bad parameters"],
)
def test_a_bad_outputs_list_is_refused_before_inference(client, model, outputs):
    """No inference runs (and so no inference metrics or drift) for a request refused."""
    body = infer_json({"shape": [1, 784], "datatype": "FP32", "data": ZEROS}, outputs=outputs)
    answer = client.post(INFER, body)
    assert answer.status == 400, answer.body
    assert model.calls == []
