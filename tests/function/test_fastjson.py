"""The /predict JSON fast path: the same arrays as the general path for the common forms,
and None (→ the general path and its precise 400) for everything it cannot prove."""

from __future__ import annotations

import json

import numpy as np
import pytest

from function.inputs.errors import InvalidInputError
from function.inputs.fastjson import parse_images
from function.inputs.tensors import ROWS_AT_ONCE, to_array, unit_pixels
from function.web.body import parse_json


def image(seed: int = 0) -> list[float]:
    return np.random.default_rng(seed).random(784).round(4).tolist()


def test_single_image_matches_the_general_path():
    values = image()
    pixels, single = parse_images(json.dumps({"image": values}).encode(), 1024)
    assert single
    assert pixels.shape == (1, 784)
    assert np.array_equal(pixels[0], np.asarray(values))


def test_batch_matches_the_general_path():
    rows = [image(i) for i in range(5)]
    pixels, single = parse_images(json.dumps({"images": rows}).encode(), 1024)
    assert not single
    # float32 already (the rows were checked in float64): what the model gets either way
    assert np.array_equal(unit_pixels(pixels, "x"), unit_pixels(np.asarray(rows), "x"))


def test_integers_are_numbers():
    pixels, _ = parse_images(json.dumps({"image": [0, 1] * 392}).encode(), 1024)
    assert pixels[0, :2].tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    "payload",
    [
        {"image": [[0.5] * 28] * 28},  # 28x28: the general path handles it
        {"image": [0.5] * 783},
        {"image": [0.5] * 782 + [[], [0.1, 0.2]]},  # ragged, same count
        {"images": [[0.5] * 784, 0.5, [[0.5] * 783]]},  # mixed depth
        {"images": [[0.5] * 784, [0.5] * 783]},
        {"image": [True] + [0.5] * 783},
        {"image": ["0.5"] + [0.5] * 783},
        {"image": [None] + [0.5] * 783},
        {"image": [0.5] * 784, "id": "[x]"},
        {"image": [0.5] * 784, "images": [[0.5] * 784]},
        {"images": []},
        {"image": {"a": 1}},
        [[0.5] * 784],
    ],
)
def test_everything_else_takes_the_general_path(payload):
    assert parse_images(json.dumps(payload).encode(), 1024) is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'{"image": [NaN]}',
        b'{"image": [1e400]}',
        b'{"image": [' + b"1" * 30 + b"]}",
        b'{"image": [1,2]} trailing',
        b"\xff\xfe",
    ],
)
def test_invalid_json_takes_the_general_path(body):
    assert parse_images(body, 1024) is None


def test_batches_over_the_limit_take_the_general_path():
    body = json.dumps({"images": [image()] * 3}).encode()
    assert parse_images(body, 2) is None
    assert parse_images(body, 3) is not None


def batch_body(rows: list[list[float]]) -> bytes:
    return json.dumps({"images": rows}).encode()


def test_a_batch_in_range_comes_as_float32_rows():
    rows = [image(i) for i in range(2 * ROWS_AT_ONCE + 6)]  # chunks, the last one short
    pixels, _ = parse_images(batch_body(rows), 1024)
    assert pixels.dtype == np.float32 and pixels.flags.c_contiguous
    assert np.array_equal(pixels, np.asarray(rows, np.float32))
    assert unit_pixels(pixels, "x") is pixels  # nothing left to convert


@pytest.mark.parametrize("value", [1 + 1e-12, 2.0, -1e-300, -0.0])
def test_a_value_outside_the_bit_check_leaves_the_batch_to_the_callers_check(value):
    rows = [image(i) for i in range(2 * ROWS_AT_ONCE + 6)]
    rows[-3][5] = value  # in the last chunk, after two converted ones
    body = batch_body(rows)
    pixels, _ = parse_images(body, 1024)
    assert pixels.dtype == np.float64  # as JSON has it: 1 + 1e-12 is not rounded to 1
    assert pixels[-3, 5] == value and np.signbit(pixels[-3, 5]) == np.signbit(value)
    general = to_array(parse_json(body)["images"], '"images"')
    if 0 <= value <= 1:  # -0.0: accepted, like the general path does
        assert np.array_equal(unit_pixels(pixels, "x"), unit_pixels(general, "x"))
    else:
        with pytest.raises(InvalidInputError) as fast:
            unit_pixels(pixels, '"images"')
        with pytest.raises(InvalidInputError) as slow:
            unit_pixels(general, '"images"')
        assert str(fast.value) == str(slow.value)
