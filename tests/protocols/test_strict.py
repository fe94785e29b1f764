"""Strict inputs on every route (issue 20): booleans are not numbers, Content-Type is
checked on every POST route, echoed fields are validated and echoed exactly, repeated JSON
keys are refused, and messages quote client input only cut short."""

from __future__ import annotations

import json

import orjson
import pytest

from function.web.body import parse_json
from function.web.errors import CLIP, clip
from tests.protocols.fake import VERSION

V2_INFER = "/v2/models/mnist/infer"
TF = "/v1/models/mnist:predict"
ROW = [0.5] * 784
ROW_WITH_TRUE = [True, *ROW[1:]]


def v2_body(data=ROW, **request) -> bytes:
    tensor = {"name": "image", "datatype": "FP32", "shape": [1, 784], "data": data}
    return orjson.dumps({"inputs": [tensor], **request})


def error_message(answer) -> str:
    error = answer.json()["error"]
    return error if isinstance(error, str) else error["message"]


def check_400(answer, fragment: str) -> None:
    assert answer.status == 400, answer.body
    assert answer.headers["x-model-version"] == VERSION
    assert fragment in error_message(answer), error_message(answer)


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/predict", {"image": ROW_WITH_TRUE}),
        ("/predict", {"image": [False] * 784}),
        ("/predict", {"images": [ROW, ROW_WITH_TRUE]}),
        ("/predict", {"image": [ROW_WITH_TRUE[i : i + 28] for i in range(0, 784, 28)]}),
        (TF, {"instances": [ROW_WITH_TRUE]}),
        (TF, {"inputs": {"image": [ROW_WITH_TRUE]}}),
        (TF, {"instances": [{"image": ROW_WITH_TRUE}]}),
        (V2_INFER, json.loads(v2_body(ROW_WITH_TRUE))),
    ],
)
def test_booleans_are_not_numbers(client, path, payload):
    check_400(client.post_json(path, payload), "true and false are not numbers")


def test_v2_uint8_booleans_are_not_numbers(client):
    tensor = {"name": "image", "datatype": "UINT8", "shape": [1, 784], "data": [True] + [0] * 783}
    check_400(client.post_json(V2_INFER, {"inputs": [tensor]}), "not numbers")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", b'{"image": [0.5], "image": ' + orjson.dumps(ROW) + b"}"),
        (TF, b'{"instances": [[0.5]], "instances": ' + orjson.dumps([ROW]) + b"}"),
        (V2_INFER, v2_body()[:-1] + b', "inputs": []}'),
        (V2_INFER, v2_body().replace(b'"name":"image"', b'"name":"image","name":"image"')),
        ("/feedback", b'{"prediction_id": "x", "actual": 1, "actual": 2}'),
    ],
)
def test_repeated_keys_are_400(client, path, body):
    answer = client.post(path, body, {"Content-Type": "application/json"})
    check_400(answer, "repeats the key")


def test_repeated_key_check_is_exact_with_colons_in_strings():
    # ':' inside strings make the counts differ: the exact parse decides, and allows it
    assert parse_json(b'{"a": "x:y:z", "b": {"c": "::"}}') == {"a": "x:y:z", "b": {"c": "::"}}
    assert parse_json(b'[[1, {"a": 1}], {"b": 2}]') == [[1, {"a": 1}], {"b": 2}]
    with pytest.raises(Exception, match="repeats the key 'a'"):
        parse_json(b'[1, {"a": 1, "a": 1}]')
    with pytest.raises(Exception, match="repeats the key 'k'"):
        parse_json(b'{"s": "a:b", "o": {"k": 1, "k": 2}}')


@pytest.mark.parametrize("request_id", [7, 2**63 - 1, 1.5, True, None, [], {"a": 1}])
def test_v2_id_must_be_a_string(client, request_id):
    answer = client.post(V2_INFER, v2_body(id=request_id), {"Content-Type": "application/json"})
    if request_id is None:  # null: as if absent
        assert answer.status == 200, answer.body
        assert "id" not in answer.json()
        return
    check_400(answer, '"id" must be a string')


def test_v2_deeply_nested_id_is_400_not_500(client):
    body = b'{"id": ' + b"[" * 300 + b"]" * 300 + b', "inputs": []}'
    check_400(client.post(V2_INFER, body), '"id" must be a string')


@pytest.mark.parametrize("request_id", ["", "req-1", "x" * 1000, "ünï\u2603", "9007199254740993"])
def test_v2_id_is_echoed_exactly(client, request_id):
    answer = client.post(V2_INFER, v2_body(id=request_id), {"Content-Type": "application/json"})
    assert answer.status == 200, answer.body
    assert answer.json()["id"] == request_id


@pytest.mark.parametrize("value", [1, 0, "true", "", None, [], {}])
def test_binary_flags_must_be_booleans(client, value):
    per_request = v2_body(parameters={"binary_data_output": value})
    per_output = v2_body(outputs=[{"name": "prediction", "parameters": {"binary_data": value}}])
    for body, name in ((per_request, "binary_data_output"), (per_output, "binary_data")):
        answer = client.post(V2_INFER, body, {"Content-Type": "application/json"})
        if value is None and name == "binary_data":  # null: the request's default
            assert answer.status == 200, answer.body
            continue
        check_400(answer, f'"{name}" must be true or false')


@pytest.mark.parametrize("params", [[], "x", 1, True])
def test_v2_parameters_must_be_objects(client, params):
    answer = client.post(V2_INFER, v2_body(parameters=params), {"Content-Type": "application/json"})
    check_400(answer, '"parameters" must be an object')


@pytest.mark.parametrize(
    ("content_type", "header_length", "status"),
    [
        (None, None, 200),
        ("application/json", None, 200),
        ("application/json; charset=utf-8", None, 200),
        ("application/octet-stream", None, 415),
        ("text/plain", None, 415),
        ("application/x-www-form-urlencoded", None, 415),
        ("multipart/form-data; boundary=x", None, 415),
        ("text/plain", "len", 415),
        ("application/octet-stream", "len", 200),
    ],
)
def test_v2_infer_checks_its_content_type(client, content_type, header_length, status):
    body = v2_body()
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if header_length is not None:
        headers["Inference-Header-Content-Length"] = str(len(body))
    answer = client.post(V2_INFER, body, headers)
    assert answer.status == status, answer.body
    if status == 415:
        assert "is not supported" in answer.json()["error"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", "image/png"])
def test_tfserving_checks_its_content_type(client, content_type):
    answer = client.post(TF, orjson.dumps({"instances": [ROW]}), {"Content-Type": content_type})
    assert answer.status == 415, answer.body
    assert answer.headers["x-model-version"] == VERSION
    assert "send application/json" in answer.json()["error"]


@pytest.mark.parametrize("signature", [1, [], {}, True])
def test_tfserving_signature_name_must_be_a_string(client, signature):
    answer = client.post_json(TF, {"instances": [ROW], "signature_name": signature})
    check_400(answer, '"signature_name" must be a string')


def test_messages_quote_client_input_cut_short(client):
    huge = "x" * 100_000
    answers = [
        client.post("/predict", b"{}", {"Content-Type": "text/" + huge}),
        client.post(TF, b"{}", {"Content-Type": "text/" + huge}),
        client.post(V2_INFER, b"{}", {"Content-Type": "text/" + huge}),
        client.post("/feedback", b"{}", {"Content-Type": "text/" + huge}),
        client.get("/" + huge),
        client.get("/v2/models/" + huge),
        client.post_json(V2_INFER, {"inputs": [{"name": huge}]}),
        client.post_json(V2_INFER, {"id": [huge], "inputs": []}),
        client.post_json(TF, {"instances": [ROW], "signature_name": huge}),
        client.post("/predict", b"{}", {"Content-Length": huge}),
    ]
    for answer in answers:
        assert 400 <= answer.status < 500, answer.body
        assert len(error_message(answer)) < 3 * CLIP + 200, error_message(answer)[:300]
        assert "characters)" in error_message(answer), error_message(answer)[:300]


def test_clip():
    assert clip("abc") == "'abc'"
    assert clip([1, 2]) == "[1, 2]"
    long = clip("y" * 5000)
    assert long.startswith("'yyy") and long.endswith("... (5000 characters)")
    assert len(long) < CLIP + 30
    assert clip(list(range(10_000))).endswith("characters)")
