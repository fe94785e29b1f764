"""The JSON fast path of every protocol (function.inputs.fastbodies): it reads the common
bodies, to exactly the payload the general path (orjson) reads with the tensors as arrays;
it leaves everything it cannot prove to the general path (None); and the answers do not
depend on which path read the body."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from function.inputs import fastbodies
from function.inputs.decoding import ImageDecoder
from function.inputs.fastbodies import (
    OFF_LOOP_BYTES,
    predict_payload,
    tf_serving_payload,
    v2_payload,
)
from function.inputs.fastjson import MAX_PLAIN_VALUES
from function.inputs.tensors import leaf_types, to_array
from function.protocols import tfserving, v2
from function.protocols.routing import routing_table
from function.web.app import App
from function.web.body import parse_json
from function.web.context import Context
from function.web.routes import Router
from tests.protocols.conftest import SERVER_VERSION, Client
from tests.protocols.fake import images, raw_images

DATATYPES = {"FP32": "float32", "UINT8": "uint8"}
READERS = {
    "predict": predict_payload,
    "tfserving": lambda body: tf_serving_payload(body, "image"),
    "v2": lambda body: v2_payload(body, DATATYPES),
}
ROW = images(1, seed=3)[0].tolist()
PROPS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def same(fast: Any, general: Any) -> None:
    """``fast`` is ``general`` with (some) arrays of numbers made numpy arrays."""
    if isinstance(fast, np.ndarray):
        assert isinstance(general, list) and bool not in leaf_types(general)
        expected = np.asarray(general)
        assert expected.dtype.kind in "fiu"
        assert fast.shape == expected.shape and np.array_equal(fast, expected)
    elif isinstance(fast, dict):
        assert isinstance(general, dict) and list(fast) == list(general)
        for key, value in fast.items():
            same(value, general[key])
    elif isinstance(fast, list):
        assert isinstance(general, list) and len(fast) == len(general)
        for mine, theirs in zip(fast, general, strict=True):
            same(mine, theirs)
    else:
        assert type(fast) is type(general) and fast == general


def v2_tensor(data: Any, datatype: str = "FP32", **extra: Any) -> dict[str, Any]:
    return {"name": "image", "datatype": datatype, "shape": [1, 784], "data": data, **extra}


def grid(rows: np.ndarray) -> list:
    return rows.reshape(-1, 28, 28).tolist()


TAKEN = {
    "predict 28x28": ("predict", {"image": grid(images(1))[0]}),
    "predict 1x784": ("predict", {"image": images(1).tolist()}),
    "predict batch 28x28": ("predict", {"images": grid(images(3))}),
    "predict extra key": ("predict", {"images": images(2).tolist(), "client": "web"}),
    "tf rows": ("tfserving", {"instances": images(3).tolist()}),
    "tf 28x28": ("tfserving", {"instances": grid(images(3))}),
    "tf signature": ("tfserving", {"signature_name": "", "inputs": images(2).tolist()}),
    "tf named columns": ("tfserving", {"inputs": {"image": images(2).tolist()}}),
    "tf named rows": ("tfserving", {"instances": [{"image": r} for r in images(2).tolist()]}),
    "tf b64": ("tfserving", {"instances": [{"b64": "eA=="}, {"image": {"b64": "eA=="}}]}),
    "tf integers": ("tfserving", {"instances": [[0, 1] * 392]}),
    "v2 flat": ("v2", {"inputs": [v2_tensor(ROW)], "id": "x", "outputs": [{"name": "prediction"}]}),
    "v2 nested": ("v2", {"inputs": [{**v2_tensor(grid(images(2))), "shape": [2, 28, 28]}]}),
    "v2 uint8": ("v2", {"inputs": [v2_tensor(raw_images(1).ravel().tolist(), "UINT8")]}),
    "v2 parameters": ("v2", {"inputs": [v2_tensor(ROW)], "parameters": {"a": [1, {"b": None}]}}),
}


@pytest.mark.parametrize(("protocol", "payload"), TAKEN.values(), ids=TAKEN)
def test_common_bodies_are_read_to_the_general_payload(protocol, payload):
    body = orjson.dumps(payload)
    fast = READERS[protocol](body)
    assert fast is not None
    same(fast, parse_json(body))


BOOL_ROW = [True, *ROW[1:]]
LEFT = {
    "repeated key": ("tfserving", b'{"instances": [[0.5]], "instances": [[0.5]]}'),
    "repeated nested key": (
        "v2",
        orjson.dumps({"inputs": [v2_tensor(ROW)]})[:-2] + b',"name":1}]}',
    ),
    "bracket in a string": ("tfserving", orjson.dumps({"instances": [ROW], "note": "["})),
    "byte-order mark": ("predict", b"\xef\xbb\xbf" + orjson.dumps({"image": grid(images(1))[0]})),
    "boolean": ("tfserving", orjson.dumps({"instances": [BOOL_ROW]})),
    "null": ("v2", orjson.dumps({"inputs": [v2_tensor([None, *ROW[1:]])]})),
    "string": ("predict", orjson.dumps({"images": [["0.5", *ROW[1:]]], "x": 1})),
    "ragged": ("tfserving", orjson.dumps({"instances": [ROW, ROW[:5]]})),
    "ragged, same count": ("tfserving", orjson.dumps({"instances": [ROW, ROW[:-1], [*ROW, 0.5]]})),
    "hidden arrays": ("tfserving", orjson.dumps({"instances": [[*ROW[:782], [], [0.1, 0.2]]]})),
    "hidden array, 28x28": ("predict", orjson.dumps({"image": [[[0.5]] + [0.5] * 27] * 28})),
    "depth 4": ("tfserving", orjson.dumps({"instances": [[grid(images(1))]]})),
    "empty": ("tfserving", b'{"instances": []}'),
    "empty rows": ("v2", orjson.dumps({"inputs": [v2_tensor([[]])]})),
    "unknown datatype": ("v2", orjson.dumps({"inputs": [v2_tensor(ROW, "FP64")]})),
    "floats as UINT8": ("v2", orjson.dumps({"inputs": [v2_tensor(ROW, "UINT8")]})),
    "uint64 as UINT8": ("v2", orjson.dumps({"inputs": [v2_tensor([2**63] * 784, "UINT8")]})),
    "mixed instances": ("tfserving", orjson.dumps({"instances": [ROW, {"b64": "eA=="}]})),
    "large plain part": (
        "v2",
        orjson.dumps({"inputs": [v2_tensor(ROW)], "x": [0] * (MAX_PLAIN_VALUES + 1)}),
    ),
    "deep plain part": ("v2", b'{"id": ' + b"[" * 100 + b"]" * 100 + b', "inputs": []}'),
    "not an object": ("predict", orjson.dumps([ROW])),
    "invalid": ("predict", b'{"image": [NaN]}'),
    "trailing": ("predict", b'{"image": [0.5]} x'),
    "huge number": ("tfserving", b'{"instances": [[1e400]]}'),
}


@pytest.mark.parametrize(("protocol", "body"), LEFT.values(), ids=LEFT)
def test_what_cannot_be_proven_is_left_to_the_general_path(protocol, body):
    assert READERS[protocol](body) is None


# Hypothesis: bodies near the common forms, with the oddities clients send.
numbers = st.one_of(st.floats(0, 1, width=32), st.integers(0, 255))
pixel = st.one_of(
    numbers, numbers, numbers, st.booleans(), st.none(), st.text(max_size=2), st.just([])
)
row = st.lists(pixel, min_size=1, max_size=4) | st.lists(numbers, min_size=3, max_size=3)
tensor = st.lists(row, min_size=1, max_size=3) | row
extra = st.dictionaries(
    st.sampled_from(["id", "x", "signature_name", "parameters"]),
    st.one_of(st.text(max_size=3), st.integers(-(2**63), 2**63 - 1), st.lists(st.booleans())),
    max_size=2,
)


@st.composite
def bodies(draw) -> tuple[str, bytes]:
    protocol = draw(st.sampled_from(sorted(READERS)))
    data = draw(tensor)
    if protocol == "predict":
        payload = {draw(st.sampled_from(["image", "images"])): data}
    elif protocol == "tfserving":
        key = draw(st.sampled_from(["instances", "inputs"]))
        payload = {key: draw(st.sampled_from([data, {"image": data}, [{"image": data}]]))}
    else:
        datatype = draw(st.sampled_from(["FP32", "UINT8", "INT8"]))
        payload = {"inputs": [v2_tensor(data, datatype)]}
    payload.update(draw(extra))
    body = orjson.dumps(payload)
    if draw(st.booleans()):  # a repeated key
        body = body[:-1] + b',"' + next(iter(payload)).encode() + b'":1}'
    return protocol, body


@PROPS
@given(bodies())
def test_the_fast_path_reads_what_the_general_path_reads(case):
    protocol, body = case
    fast = READERS[protocol](body)
    if fast is not None:
        same(fast, parse_json(body))


def previous_to_array_message(data: list) -> str | None:
    """to_array's verdict before non-numbers were told apart without numpy's strings."""
    if bool in leaf_types(data):
        return "true and false are not numbers"
    try:
        array = np.asarray(data)
    except (ValueError, TypeError, OverflowError):
        return "rectangular"
    return None if array.dtype.kind in "fiu" else "only numbers"


nested = st.recursive(pixel, lambda inner: st.lists(inner, max_size=3), max_leaves=12)


@PROPS
@given(st.lists(nested, max_size=4))
def test_to_array_words_its_400_as_before(data):
    expected = previous_to_array_message(data)
    if expected is None:
        assert np.array_equal(to_array(data, "x"), np.asarray(data))
        return
    with pytest.raises(Exception, match=expected):
        to_array(data, "x")


@pytest.fixture
def fast_verdicts(monkeypatch):
    """Which bodies the TF Serving and V2 fast paths read (True) or left (False)."""
    verdicts: list[bool] = []

    def spy(module, name):
        real = getattr(fastbodies, name)

        def reader(*args, **kwargs):
            result = real(*args, **kwargs)
            verdicts.append(result is not None)
            return result

        monkeypatch.setattr(module, name, reader)

    spy(tfserving, "tf_serving_payload")
    spy(v2, "v2_payload")
    return verdicts


SAME_ANSWERS = {
    "tf rows": ("/v1/models/mnist:predict", {"instances": images(3).tolist()}),
    "tf 28x28": ("/v1/models/mnist:predict", {"inputs": {"image": grid(images(2))}}),
    "tf range": ("/v1/models/mnist:predict", {"instances": [[2.0] * 784]}),
    "tf shape": ("/v1/models/mnist:predict", {"instances": [[0.5] * 3]}),
    "tf too many": ("/v1/models/mnist:predict", {"instances": [[0.5] * 3] * 9}),
    "v2 fp32": ("/v2/models/mnist/infer", {"inputs": [v2_tensor(ROW)], "id": "a"}),
    "v2 uint8": ("/v2/models/mnist/infer", {"inputs": [v2_tensor([300] * 784, "UINT8")]}),
    "v2 size": ("/v2/models/mnist/infer", {"inputs": [{**v2_tensor(ROW), "shape": [2, 784]}]}),
    "v2 name": ("/v2/models/mnist/infer", {"inputs": [{**v2_tensor(ROW), "name": "x"}]}),
}


@pytest.mark.parametrize(("path", "payload"), SAME_ANSWERS.values(), ids=SAME_ANSWERS)
def test_the_answer_does_not_depend_on_the_path(client, fast_verdicts, path, payload):
    """A ``[`` in a string of an ignored key sends the same body down the general path."""
    fast = client.post(path, orjson.dumps(payload), {"Content-Type": "application/json"})
    general = client.post(
        path, orjson.dumps({**payload, "note": "[general]"}), {"Content-Type": "application/json"}
    )
    assert fast_verdicts == [True, False]
    assert (fast.status, fast.body) == (general.status, general.body)
    if fast.status == 200:
        assert np.array_equal(client.model.calls[0], client.model.calls[1])


def test_named_rows_keep_their_per_row_messages(client):
    rows = [{"image": ROW}, {"image": [2.0] * 784}]
    answer = client.post_json("/v1/models/mnist:predict", {"instances": rows})
    assert answer.status == 400
    assert json.loads(answer.body)["error"].startswith('"instances"[1] values must be in 0..1')


@pytest.fixture
def big_client(model, settings):
    """A client whose limits admit bodies read in the decode pool (over OFF_LOOP_BYTES)."""
    settings = dataclasses.replace(
        settings, max_batch=BIG_BATCH, max_body_bytes=16 * OFF_LOOP_BYTES
    )
    ctx = Context.create(model, settings)
    return Client(App(ctx, Router(routing_table(ctx, SERVER_VERSION), model.version)), model)


BIG_BATCH = 100
BIG_FORMS = {
    "predict": ("/predict", lambda x: {"images": x.tolist()}),
    "predict 28x28": ("/predict", lambda x: {"images": grid(x)}),
    "tf": ("/v1/models/mnist:predict", lambda x: {"instances": grid(x)}),
    "v2": ("/v2/models/mnist/infer", lambda x: {"inputs": [{**v2_tensor(x.tolist())}]}),
}


@pytest.mark.parametrize(("path", "form"), BIG_FORMS.values(), ids=BIG_FORMS)
@pytest.mark.parametrize("general", [False, True], ids=["fast", "general"])
def test_large_bodies_are_read_in_the_json_thread(big_client, monkeypatch, path, form, general):
    threads: list[str] = []
    real_run = ImageDecoder.run_serial

    async def run(self, function, *arguments):
        def recorded():
            threads.append(threading.current_thread().name)
            return function(*arguments)

        return await real_run(self, recorded)

    monkeypatch.setattr(ImageDecoder, "run_serial", run)
    x = images(BIG_BATCH, seed=9)
    payload = form(x)
    if path.startswith("/v2"):
        payload["inputs"][0]["shape"] = [BIG_BATCH, 784]
    if general:
        payload["note"] = "[general]"
    body = orjson.dumps(payload)
    assert len(body) > OFF_LOOP_BYTES
    answer = big_client.post(path, body, {"Content-Type": "application/json"})
    assert answer.status == 200, answer.body[:300]
    assert np.array_equal(big_client.model.batch, x)
    assert len(threads) == 1 and threads[0].startswith("digitrun-json")
    bad = orjson.dumps(payload).replace(b"0.", b"true,0.", 1)  # a boolean among the pixels
    answer = big_client.post(path, bad, {"Content-Type": "application/json"})
    assert answer.status == 400, answer.body[:300]
    assert b"true and false are not numbers" in answer.body
