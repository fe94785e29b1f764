"""One sender per protocol the service speaks: how a batch of digits becomes a request, and
how the answer becomes digits and confidences.

| name          | request                                                        |
|---------------|----------------------------------------------------------------|
| `predict`     | `POST /predict`, JSON `{"image": [...]}` / `{"images": [...]}`, pixels 0..1 |
| `predict-png` | `POST /predict`, one `image/png` (or JPEG) file per request      |
| `tfserving`   | `POST /v1/models/MODEL:predict`, `{"instances": [{"b64": PNG}]}` |
| `v2-json`     | `POST /v2/models/MODEL/infer`, JSON tensor, UINT8 [N, 28, 28]   |
| `v2-binary`   | `POST /v2/models/MODEL/infer`, binary tensor, FP32 [N, 784] 0..1 |
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from client import v2
from client.png import image_type
from function.contract.spec import SPEC
from function.web.paths import PREDICT, V1_MODELS, V2_MODELS

Inputs = Any  # uint8 [N, 28, 28] pixels (np.ndarray), or a list of PNG files (bytes)
JSON = "application/json"


@dataclass(frozen=True)
class HttpRequest:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Prediction:
    """The answer to one request: the most probable digit of each image, its probability."""

    digits: np.ndarray  # int64 [N]
    confidences: np.ndarray  # float [N]


@dataclass(frozen=True)
class Sender:
    name: str
    title: str
    takes_png: bool  # the images travel as PNG files (else as pixels)
    per_request: int  # images per request at most
    build: Callable[[Inputs, str], HttpRequest]  # (inputs, model name) → request
    read: Callable[[bytes, Mapping[str, str]], Prediction]  # (body, headers) → answer


def _json(path: str, payload: object) -> HttpRequest:
    return HttpRequest(path, json.dumps(payload).encode(), {"Content-Type": JSON})


def _from_probabilities(probabilities: Any) -> Prediction:
    probs = np.asarray(probabilities, dtype=np.float64).reshape(-1, SPEC.output.classes)
    return Prediction(probs.argmax(axis=1), probs.max(axis=1))


def build_predict_json(images: np.ndarray, model: str) -> HttpRequest:
    pixels = SPEC.input.scale(images)
    if len(pixels) == 1:
        return _json(PREDICT, {"image": pixels[0].tolist()})
    return _json(PREDICT, {"images": pixels.tolist()})


def build_predict_png(pngs: list[bytes], model: str) -> HttpRequest:
    (image,) = pngs
    return HttpRequest(PREDICT, image, {"Content-Type": image_type(image) or "image/png"})


def read_predict(body: bytes, headers: Mapping[str, str]) -> Prediction:
    answer = json.loads(body)
    if "prediction" in answer:
        return Prediction(
            np.asarray([answer["prediction"]], np.int64),
            np.asarray([answer["confidence"]], np.float64),
        )
    return _from_probabilities(answer["probabilities"])


def build_tfserving(pngs: list[bytes], model: str) -> HttpRequest:
    instances = [{"b64": base64.b64encode(png).decode("ascii")} for png in pngs]
    return _json(f"{V1_MODELS}{model}:predict", {"instances": instances})


def read_tfserving(body: bytes, headers: Mapping[str, str]) -> Prediction:
    return _from_probabilities(json.loads(body)["predictions"])


def build_v2_json(images: np.ndarray, model: str) -> HttpRequest:
    tensor = {
        "name": SPEC.input.name,
        "shape": list(images.shape),
        "datatype": "UINT8",
        "data": images.ravel().tolist(),
    }
    payload = {"inputs": [tensor], "outputs": [{"name": SPEC.output.name}]}
    return _json(f"{V2_MODELS}{model}/infer", payload)


def build_v2_binary(images: np.ndarray, model: str) -> HttpRequest:
    outputs = [{"name": SPEC.output.name, "parameters": {"binary_data": True}}]
    body, headers = v2.binary_request(SPEC.input.scale(images), "FP32", outputs)
    return HttpRequest(f"{V2_MODELS}{model}/infer", body, headers)


def read_v2(body: bytes, headers: Mapping[str, str]) -> Prediction:
    return _from_probabilities(v2.read_outputs(body, headers)[SPEC.output.name])


# Images per request: well under the service's 4 MiB body limit and MAX_BATCH (1024);
# TF Serving's b64 instances are capped at 64 per request by the service.
SENDERS: dict[str, Sender] = {
    s.name: s
    for s in (
        Sender("predict", "POST /predict (JSON)", False, 100, build_predict_json, read_predict),
        Sender("predict-png", "POST /predict (PNG)", True, 1, build_predict_png, read_predict),
        Sender("tfserving", "TF Serving :predict (b64)", True, 64, build_tfserving, read_tfserving),
        Sender("v2-json", "V2 infer (JSON, UINT8)", False, 256, build_v2_json, read_v2),
        Sender("v2-binary", "V2 infer (binary, FP32)", False, 256, build_v2_binary, read_v2),
    )
}
ALL = "all"
PNG_SENDERS = tuple(name for name, sender in SENDERS.items() if sender.takes_png)
