"""Small helpers shared by the serving tests: images, V2 binary bodies, schema checks."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from PIL import Image


def to_u8(pixels: np.ndarray) -> np.ndarray:
    """float32 [784] in 0..1 → uint8 [28, 28]."""
    return np.round(np.asarray(pixels).reshape(28, 28) * 255).astype(np.uint8)


def encode(array: np.ndarray, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **options)
    return buffer.getvalue()


def as_photo(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    """A digit as a person would send it: dark ink on white, 4x larger, off-centre."""
    big = np.asarray(Image.fromarray(to_u8(pixels)).resize((112, 112), Image.Resampling.BILINEAR))
    return encode(np.pad(255 - big, ((10, 40), (30, 5)), constant_values=255), fmt)


def v2_binary_body(
    images: np.ndarray, datatype: str = "FP32", outputs: list[dict] | None = None, **extra: Any
) -> tuple[bytes, dict[str, str]]:
    """A V2 inference request with binary input data; the body and its headers."""
    raw = np.ascontiguousarray(images, "<f4" if datatype == "FP32" else "u1").tobytes()
    request: dict[str, Any] = {
        "inputs": [
            {
                "name": "image",
                "shape": list(images.shape),
                "datatype": datatype,
                "parameters": {"binary_data_size": len(raw)},
            }
        ],
        **extra,
    }
    if outputs is not None:
        request["outputs"] = outputs
    header = json.dumps(request).encode()
    return header + raw, {
        "Inference-Header-Content-Length": str(len(header)),
        "Content-Type": "application/octet-stream",
    }


def v2_outputs(response: Any) -> dict[str, np.ndarray]:
    """The outputs of a V2 answer (JSON or binary) as numpy arrays, by name."""
    body = response.content
    length = response.headers.get("Inference-Header-Content-Length")
    header = json.loads(body[: int(length)] if length else body)
    blob = body[int(length) :] if length else b""
    arrays, offset = {}, 0
    for out in header["outputs"]:
        dtype = {"FP32": "<f4", "INT64": "<i8"}[out["datatype"]]
        size = (out.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            values = np.frombuffer(blob[offset : offset + size], dtype)
            offset += size
        else:
            values = np.asarray(out["data"], dtype)
        arrays[out["name"]] = values.reshape(out["shape"])
    assert offset == len(blob), "binary data left over"
    return arrays


def validate(instance: Any, schema: dict, root: dict, where: str = "$") -> None:
    """A small JSON-Schema check (the subset the OpenAPI document uses)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        validate(instance, root["components"]["schemas"][name], root, where)
        return
    if "oneOf" in schema:
        matches = 0
        for option in schema["oneOf"]:
            try:
                validate(instance, option, root, where)
                matches += 1
            except AssertionError:
                continue
        assert matches >= 1, f"{where}: matches none of oneOf"
        return
    kind = schema.get("type")
    types = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
    }
    if kind:
        assert isinstance(instance, types[kind]), f"{where}: {type(instance).__name__} != {kind}"
        if kind in ("integer", "number"):
            assert not isinstance(instance, bool), f"{where}: bool is not a {kind}"
    if "enum" in schema:
        assert instance in schema["enum"], f"{where}: {instance!r} not in {schema['enum']}"
    if "minimum" in schema:
        assert instance >= schema["minimum"], f"{where}: {instance} < minimum"
    if "maximum" in schema:
        assert instance <= schema["maximum"], f"{where}: {instance} > maximum"
    if isinstance(instance, dict):
        for key in schema.get("required", []):
            assert key in instance, f"{where}: missing {key!r}"
        for key, sub in schema.get("properties", {}).items():
            if key in instance:
                validate(instance[key], sub, root, f"{where}.{key}")
    if isinstance(instance, list):
        if "minItems" in schema:
            assert len(instance) >= schema["minItems"], f"{where}: too few items"
        if "maxItems" in schema:
            assert len(instance) <= schema["maxItems"], f"{where}: too many items"
        if "items" in schema:
            for i, item in enumerate(instance):
                validate(item, schema["items"], root, f"{where}[{i}]")
