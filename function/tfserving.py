"""TensorFlow Serving's REST API for the model ``mnist``.

* ``POST /v1/models/mnist:predict`` — row format ``{"instances": [...]}`` →
  ``{"predictions": [[10 probabilities], ...]}``, or columnar ``{"inputs": ...}`` →
  ``{"outputs": [[...], ...]}``. An instance is 784 numbers in 0..1, 28x28 nested lists,
  ``{"b64": "<base64 PNG or JPEG>"}`` (MNIST-style preprocessing), or an object naming the
  input: ``{"image": ...}``. The signature is ``serving_default``.
* ``GET /v1/models/mnist`` — the model's status; ``GET /v1/models/mnist/metadata`` — its
  signature. Errors are ``{"error": "<message>"}``, as TF Serving writes them.

TF Serving's versions are integers; this service reports the published version id.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response

from function.artifact import IMAGE_PIXELS, NUM_CLASSES
from function.body import parse_json, read_body
from function.config import MODEL_ROUTE_NAME
from function.context import Context
from function.http_errors import BatchTooLargeError, InvalidInputError
from function.images import MAX_ENCODED_IMAGES, image_to_pixels
from function.tensors import batch_of_images, check_batch_size, one_image, to_array, unit_pixels

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
SIGNATURE = "serving_default"
INPUT = "image"
OUTPUT = "probabilities"


class TfServingApi:
    def __init__(self, ctx: Context) -> None:
        self._model = ctx.model
        self._respond = ctx.respond
        self._limit = ctx.settings.max_body_bytes
        self._max_batch = ctx.settings.max_batch
        version = ctx.model.version
        self._status = orjson.dumps(
            {
                "model_version_status": [
                    {
                        "version": version,
                        "state": "AVAILABLE",
                        "status": {"error_code": "OK", "error_message": ""},
                    }
                ]
            }
        )
        self._metadata = orjson.dumps(_metadata(version))

    async def predict(self, request: Request) -> Response:
        payload = parse_json(await read_body(request, self._limit))
        if not isinstance(payload, dict):
            raise InvalidInputError('the body must be a JSON object with "instances" or "inputs"')
        signature = payload.get("signature_name") or SIGNATURE
        if signature != SIGNATURE:
            raise InvalidInputError(f"Serving signature name: {signature!r} not found")
        if "instances" in payload and "inputs" in payload:
            raise InvalidInputError(
                'send either "instances" (row) or "inputs" (columnar), not both'
            )
        if "instances" in payload:
            key, answer = "instances", "predictions"
        elif "inputs" in payload:
            key, answer = "inputs", "outputs"
        else:
            raise InvalidInputError('missing "instances" (row format) or "inputs" (columnar)')
        pixels = self._pixels(payload[key], key)
        probs = self._model.predict(pixels)
        return self._respond.json(orjson.dumps({answer: probs}, option=_NUMPY))

    async def status(self, request: Request) -> Response:
        return self._respond.json(self._status)

    async def metadata(self, request: Request) -> Response:
        return self._respond.json(self._metadata)

    def _pixels(self, value: Any, key: str) -> np.ndarray:
        what = f'"{key}"'
        if isinstance(value, dict) and "b64" not in value:  # columnar, the input named
            value = _named(value, what)
        if isinstance(value, dict) and "b64" in value:  # one image
            value = [value]
        if not isinstance(value, list):
            raise InvalidInputError(f"{what} must be a list of images")
        check_batch_size(len(value), what, self._max_batch)
        try:  # the fast path: every instance is numbers
            array = np.asarray(value)
        except (ValueError, TypeError, OverflowError):
            array = None
        if array is not None and array.dtype.kind in "fiu":
            return unit_pixels(batch_of_images(array, what, self._max_batch), what)
        if len(value) > MAX_ENCODED_IMAGES:  # decoding images costs far more than numbers
            raise BatchTooLargeError(
                f"{what} holds {len(value)} instances that are not all numbers: at most "
                f"{MAX_ENCODED_IMAGES} encoded (b64) images per request"
            )
        rows = [self._instance(item, f"{what}[{i}]") for i, item in enumerate(value)]
        return np.ascontiguousarray(np.concatenate(rows), dtype=np.float32)

    def _instance(self, item: Any, what: str) -> np.ndarray:
        """One instance → float32 [1, 784]."""
        if isinstance(item, dict):
            if "b64" in item:
                return image_to_pixels(_b64(item["b64"], what)).reshape(1, IMAGE_PIXELS)
            item = _named(item, what)
            if isinstance(item, dict) and "b64" in item:
                return image_to_pixels(_b64(item["b64"], what)).reshape(1, IMAGE_PIXELS)
        return unit_pixels(one_image(to_array(item, what), what), what)


def _named(value: dict[str, Any], what: str) -> Any:
    """The value of the one input, ``image``, in an object that names its inputs."""
    unknown = sorted(set(value) - {INPUT})
    if unknown or INPUT not in value:
        raise InvalidInputError(
            f"{what} names input(s) {sorted(value)}: the model's only input is {INPUT!r}"
        )
    return value[INPUT]


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidInputError(f'{what}: "b64" must be a base64 string')
    try:
        return b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f'{what}: "b64" is not valid base64') from None


def _metadata(version: str) -> dict[str, Any]:
    def tensor(name: str, dims: list[int]) -> dict[str, Any]:
        return {
            "dtype": "DT_FLOAT",
            "tensor_shape": {
                "dim": [{"size": str(d), "name": ""} for d in dims],
                "unknown_rank": False,
            },
            "name": f"{SIGNATURE}_{name}:0",
        }

    return {
        "model_spec": {"name": MODEL_ROUTE_NAME, "signature_name": "", "version": version},
        "metadata": {
            "signature_def": {
                "signature_def": {
                    SIGNATURE: {
                        "inputs": {INPUT: tensor(INPUT, [-1, IMAGE_PIXELS])},
                        "outputs": {OUTPUT: tensor("output_0", [-1, NUM_CLASSES])},
                        "method_name": "tensorflow/serving/predict",
                    }
                }
            }
        },
    }
