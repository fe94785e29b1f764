"""The traffic mix: every request kind the service speaks, its weight, its body and its check.

| key | Locust name | request |
|---|---|---|
| predict | ``/predict [1 digit]`` | ``{"image": [784 floats]}`` |
| batch | ``/predict [batch N]`` | ``{"images": [[784 floats], ...]}`` |
| png | ``/predict [PNG upload]`` | a multipart form, field ``image``: the digit as a PNG |
| tfserving | ``/v1/models/mnist:predict`` | ``{"instances": [[784 floats]]}`` |
| v2_json | ``/v2/models/mnist/infer [JSON]`` | UINT8 ``[1, 28, 28]`` as JSON data |
| v2_binary | ``/v2/models/mnist/infer [binary N]`` | FP32 ``[N, 784]`` as binary tensor data |

``LOADTEST_MIX`` overrides weights: ``"predict=40,batch=5"`` (unnamed kinds keep theirs,
weight 0 drops a kind); naming a kind without a weight keeps only the kinds named
(``"predict"``: single digits only). ``LOADTEST_BATCH`` sets the batch size (default 16).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import orjson
from PIL import Image

from client.v2 import binary_request
from function.contract.spec import PREDICTION_OUTPUT, SPEC
from function.web import paths
from loadtest import checks

JSON = {"Content-Type": "application/json"}
BOUNDARY = "digitrun-loadtest-boundary"
BATCH = int(os.environ.get("LOADTEST_BATCH", "16"))
V2_BINARY_BATCH = 8
POOL = 64  # prepared batches per batch kind
Encoder = Callable[[np.ndarray], tuple[bytes, dict[str, str]]]
Decoder = Callable[[bytes, Mapping[str, str], int], np.ndarray]


def png(image: np.ndarray) -> bytes:
    """A digit as a user would upload it: dark ink on white paper, 4x larger, PNG."""
    height, width = image.shape
    paper = Image.fromarray(np.uint8(SPEC.input.raw_max) - image)
    buffer = io.BytesIO()
    paper.resize((width * 4, height * 4), Image.Resampling.BILINEAR).save(buffer, "PNG")
    return buffer.getvalue()


def unit(images: np.ndarray) -> list[list[float]]:
    """uint8 images → [N, 784] floats in 0..1 (the contract's scaling), 4 decimals."""
    return SPEC.input.scale(images).round(4).tolist()


def encode_one(images: np.ndarray) -> tuple[bytes, dict[str, str]]:
    return orjson.dumps({"image": unit(images)[0]}), JSON


def encode_batch(images: np.ndarray) -> tuple[bytes, dict[str, str]]:
    return orjson.dumps({"images": unit(images)}), JSON


def encode_png(images: np.ndarray) -> tuple[bytes, dict[str, str]]:
    """A browser's file upload: multipart/form-data, field ``image``, ``digit.png``."""
    head = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=image; filename=digit.png\r\n"
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    body = head + png(images[0]) + f"\r\n--{BOUNDARY}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def encode_tfserving(images: np.ndarray) -> tuple[bytes, dict[str, str]]:
    return orjson.dumps({"instances": unit(images)}), JSON


def encode_v2_json(images: np.ndarray) -> tuple[bytes, dict[str, str]]:
    tensor = {
        "name": SPEC.input.name,
        "shape": list(images.shape),
        "datatype": "UINT8",
        "data": images.reshape(-1).tolist(),
    }
    return orjson.dumps({"inputs": [tensor]}), JSON


def encode_v2_binary(images: np.ndarray) -> tuple[bytes, dict[str, str]]:
    binary = {"binary_data": True}
    outputs = [
        {"name": SPEC.output.name, "parameters": binary},
        {"name": PREDICTION_OUTPUT, "parameters": binary},
    ]
    return binary_request(SPEC.input.scale(images), "FP32", outputs)


@dataclass(frozen=True)
class Kind:
    """One request kind: ``name`` groups its URLs in Locust; ``route`` is the service's
    metrics label of its path; ``size`` digits per request."""

    key: str
    name: str
    path: str
    route: str
    weight: int
    size: int
    encode: Encoder
    decode: Decoder


V1_PREDICT = f"{paths.V1_MODEL}:predict"
V2_INFER = f"{paths.V2_MODEL}/infer"
KINDS = (
    Kind("predict", "/predict [1 digit]", paths.PREDICT, "predict", 40, 1,
         encode_one, checks.predict_one),
    Kind("batch", f"/predict [batch {BATCH}]", paths.PREDICT, "predict", 5, BATCH,
         encode_batch, checks.predict_batch),
    Kind("png", "/predict [PNG upload]", paths.PREDICT, "predict", 10, 1,
         encode_png, checks.predict_one),
    Kind("tfserving", V1_PREDICT, V1_PREDICT, "tfserving_predict", 15, 1,
         encode_tfserving, checks.tfserving),
    Kind("v2_json", f"{V2_INFER} [JSON]", V2_INFER, "v2_infer", 15, 1,
         encode_v2_json, checks.v2),
    Kind("v2_binary", f"{V2_INFER} [binary {V2_BINARY_BATCH}]", V2_INFER, "v2_infer", 15,
         V2_BINARY_BATCH, encode_v2_binary, checks.v2),
)  # fmt: skip
BY_NAME = {kind.name: kind for kind in KINDS}


def weights(mix: str | None = None) -> dict[str, int]:
    """Each kind's weight: the defaults, overridden by ``mix`` (``key=weight,...``); a mix
    naming a kind without a weight (``predict`` or ``predict,png=5``) keeps only the kinds
    it names."""
    defaults = {kind.key: kind.weight for kind in KINDS}
    items = [part.strip() for part in (mix or "").split(",") if part.strip()]
    only = any("=" not in item for item in items)
    table = dict.fromkeys(defaults, 0) if only else dict(defaults)
    for item in items:
        key, sign, value = item.partition("=")
        if key not in table or (sign and not value.strip().isdigit()):
            raise ValueError(f"LOADTEST_MIX item {item!r}: want key[=weight], keys {list(table)}")
        table[key] = int(value) if sign else defaults[key]
    if not any(table.values()):
        raise ValueError("LOADTEST_MIX leaves no request kind with a weight above 0")
    return table


@dataclass(frozen=True)
class Prepared:
    """A ready request: its body, headers and the true labels of its digits."""

    body: bytes
    headers: dict[str, str]
    labels: np.ndarray


def prepare(kind: Kind, images: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[Prepared]:
    """The requests a kind draws from: each digit once for single-digit kinds, else
    ``POOL`` random batches of ``kind.size``."""
    if kind.size == 1:
        picks = [np.array([i]) for i in range(len(labels))]
    else:
        rng = np.random.default_rng(seed)
        picks = [rng.choice(len(labels), kind.size, replace=False) for _ in range(POOL)]
    prepared = []
    for index in picks:
        body, headers = kind.encode(images[index])
        prepared.append(Prepared(body, dict(headers), labels[index]))
    return prepared
