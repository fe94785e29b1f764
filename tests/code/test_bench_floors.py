"""The benchmark's floors (bench/floors.py, run by bench.scenarios.floors_alone), measured
for real on two small bodies: every body received, the JSON one also parsed, by the
service's own parser."""

from __future__ import annotations

import json

import pytest

from bench.floors import PARSE, RECEIVE, parse_us
from bench.scenarios import floors_alone


def test_every_body_is_received_and_the_json_ones_parsed(tmp_path):
    digit = tmp_path / "digit.body"
    digit.write_text(json.dumps({"image": [0.5] * 784}))
    tensor = tmp_path / "tensor.body"
    tensor.write_bytes(bytes(256 * 1024))
    found = floors_alone({"one": (digit, (RECEIVE, PARSE)), "binary": (tensor, (RECEIVE,))}, 0.2)
    assert set(found) == {"one", "binary"}
    assert set(found["one"]) == {RECEIVE, PARSE} and set(found["binary"]) == {RECEIVE}
    assert all(us > 0 for floors in found.values() for us in floors.values())


def test_the_parse_floor_grows_with_the_body(tmp_path):
    small, large = tmp_path / "small.body", tmp_path / "large.body"
    small.write_text(json.dumps({"images": [[0.25] * 784]}))
    large.write_text(json.dumps({"images": [[0.25] * 784] * 64}))
    assert parse_us(large, 0.2) > 8 * parse_us(small, 0.2)


def test_a_body_that_is_not_json_is_refused_by_the_parse_floor(tmp_path):
    body = tmp_path / "binary.body"
    body.write_bytes(b"\x00\x01 not json")
    with pytest.raises(ValueError, match="JSON document"):
        parse_us(body, 0.1)
