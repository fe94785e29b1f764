"""Property tests of the request parsers, in-process: whatever bytes or JSON arrive, the
parsers answer with a tensor or a client error (never another exception), the fast path
agrees with the general one, and V2 binary bodies round-trip."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.v2 import binary_request
from function.contract.spec import SPEC
from function.errors import RequestError
from function.inputs.fastjson import parse_images
from function.inputs.tensors import leaf_types, to_array, unit_pixels
from function.web.body import parse_json

FEATURES = SPEC.input.features
# An image is 784 pixels whatever the strategy does: Hypothesis' large-base-example check
# (strict under CI=true) would reject every image strategy, so it is off, with the others
# that only concern speed and fixtures. The properties asserted are unchanged.
PROPS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.large_base_example,
    ],
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)
pixels = st.floats(0, 1, allow_nan=False, width=32)


@PROPS
@given(st.binary(max_size=300))
def test_parse_json_answers_any_bytes_with_a_value_or_a_client_error(body):
    try:
        parse_json(body)
    except RequestError as exc:
        error = exc
    else:
        return
    assert error.status == 400 and str(error)


@PROPS
@given(json_values)
def test_parse_json_reads_what_json_writes(value):
    assert parse_json(orjson.dumps(value)) == value


@PROPS
@given(st.lists(st.tuples(st.sampled_from("abc"), json_values), min_size=1, max_size=6))
def test_repeated_keys_are_refused_and_unique_ones_read(pairs):
    body = "{" + ",".join(f"{json.dumps(k)}: {orjson.dumps(v).decode()}" for k, v in pairs) + "}"
    keys = [k for k, _ in pairs]
    if len(set(keys)) < len(keys):
        with pytest.raises(RequestError, match="repeats the key"):
            parse_json(body.encode())
    else:
        assert parse_json(body.encode()) == dict(pairs)


@PROPS
@given(json_values)
def test_to_array_gives_numbers_or_a_client_error(value):
    try:
        array = to_array(value, "x")
    except RequestError as exc:
        error = exc
    else:
        assert array.dtype.kind in "fiu"
        assert bool not in leaf_types(value)
        return
    assert error.status == 400


@PROPS
@given(st.lists(pixels, min_size=FEATURES, max_size=FEATURES), st.integers(0, FEATURES - 1))
def test_a_boolean_among_pixels_is_refused(row, at):
    row[at] = True
    with pytest.raises(RequestError, match="not numbers"):
        to_array(row, "x")
    body = orjson.dumps({"image": row})
    assert parse_images(body, 8) is None  # the fast path leaves it to the general one


@PROPS
@given(st.lists(st.lists(pixels, min_size=FEATURES, max_size=FEATURES), min_size=1, max_size=3))
def test_the_fast_path_agrees_with_the_general_one(rows):
    body = orjson.dumps({"images": rows})
    fast = parse_images(body, 8)
    assert fast is not None
    array, single = fast
    assert not single
    general = unit_pixels(to_array(parse_json(body)["images"], "x"), "x")
    assert np.array_equal(unit_pixels(array, "x"), general)


@PROPS
@given(st.binary(max_size=2000))
def test_the_fast_path_takes_any_bytes(body):
    result = parse_images(body, 8)
    if result is not None:
        array, _ = result
        assert array.shape[1] == FEATURES


@PROPS
@given(st.integers(1, 3), st.sampled_from(["FP32", "UINT8"]), st.data())
def test_v2_binary_bodies_round_trip(client, n, datatype, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    if datatype == "FP32":
        x = rng.random((n, FEATURES), dtype=np.float32)
    else:
        x = rng.integers(0, 256, (n, FEATURES), dtype=np.uint8)
    body, headers = binary_request(x, datatype=datatype)
    answer = client.post("/v2/models/mnist/infer", body, headers)
    assert answer.status == 200, answer.body
    cut = data.draw(st.integers(0, len(body) - 1))  # any truncation is a client error
    answer = client.post("/v2/models/mnist/infer", body[:cut], headers)
    assert answer.status == 400, answer.body


@PROPS
@given(st.binary(min_size=1, max_size=400))
def test_any_image_body_is_a_prediction_or_a_client_error(client, body):
    answer = client.post("/predict", body, {"Content-Type": "image/png"})
    assert answer.status in (200, 400), answer.body
