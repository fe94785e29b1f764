"""Small helpers shared by the serving tests: images, V2 answers, schema checks."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from jsonschema import Draft4Validator
from PIL import Image

from client.v2 import binary_request as v2_binary_body  # noqa: F401 (the one builder)
from client.v2 import read_outputs


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


def v2_outputs(response: Any) -> dict[str, np.ndarray]:
    """The outputs of a V2 answer (JSON or binary) as numpy arrays, by name."""
    return read_outputs(response.content, response.headers)


def validate(instance: Any, schema: dict, root: dict, where: str = "$") -> None:
    """``instance`` is valid against ``schema`` (JSON Schema, as OpenAPI 3.0 writes it:
    draft 4's strict integers), its ``$ref``s resolved in the OpenAPI document ``root``."""
    resolvable = {**schema, "components": root["components"]}
    errors = sorted(Draft4Validator(resolvable).iter_errors(instance), key=lambda e: e.path)
    assert not errors, f"{where}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message[:200]}" for e in errors
    )
