"""Open Inference Protocol V2 on the client side: the one builder of binary tensor requests
and the one reader of answers (JSON or binary), shared by the client, the demo, the tests
and the benchmark."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from function.contract.spec import SPEC, V2_DATATYPES, WIRE_DTYPES

HEADER_LENGTH = "Inference-Header-Content-Length"
# V2 datatype → the numpy dtype of its binary form
DTYPES = {V2_DATATYPES[dtype]: wire for dtype, wire in WIRE_DTYPES.items()}


def binary_request(
    images: np.ndarray,
    datatype: str = "FP32",
    outputs: list[dict] | None = None,
    **extra: Any,
) -> tuple[bytes, dict[str, str]]:
    """A V2 inference request whose input travels as binary data after the JSON header:
    the body and its headers. ``images`` keeps its shape ([N, 784] or [N, 28, 28])."""
    raw = np.ascontiguousarray(images, DTYPES[datatype]).tobytes()
    request: dict[str, Any] = {
        "inputs": [
            {
                "name": SPEC.input.name,
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
        HEADER_LENGTH: str(len(header)),
        "Content-Type": "application/octet-stream",
    }


def read_outputs(body: bytes, headers: Mapping[str, str]) -> dict[str, np.ndarray]:
    """The outputs of a V2 answer (JSON or binary) as numpy arrays, by name."""
    lowered = {k.lower(): v for k, v in headers.items()}
    length = lowered.get(HEADER_LENGTH.lower())
    header = json.loads(body[: int(length)] if length else body)
    blob = body[int(length) :] if length else b""
    arrays, offset = {}, 0
    for out in header["outputs"]:
        dtype = DTYPES[out["datatype"]]
        size = (out.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            values = np.frombuffer(blob[offset : offset + size], dtype)
            offset += size
        else:
            values = np.asarray(out["data"], dtype)
        arrays[out["name"]] = values.reshape(out["shape"])
    if offset != len(blob):
        raise ValueError(f"{len(blob) - offset} bytes of binary data left over")
    return arrays
