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
from functools import partial
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response

from function.contract.spec import TF_DATATYPES, InputSpec, TensorSpec
from function.inputs.decoding import shared_decoder
from function.inputs.errors import BatchTooLargeError, InvalidInputError
from function.inputs.fastbodies import off_loop_if_large, read_json, tf_serving_payload
from function.inputs.images import MAX_ENCODED_IMAGES
from function.inputs.tensors import (
    batch_of_images,
    check_batch_size,
    numbers_array,
    one_image,
    to_array,
    unit_pixels,
)
from function.web.body import read_buffer, require_json
from function.web.context import Context
from function.web.errors import clip
from function.web.paths import MODEL_ROUTE_NAME

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
SIGNATURE = "serving_default"


class TfServingApi:
    def __init__(self, ctx: Context) -> None:
        self._model = ctx.model
        self._respond = ctx.respond
        self._limit = ctx.settings.max_body_bytes
        self._max_batch = ctx.settings.max_batch
        self._input: InputSpec = ctx.model.spec.input
        self._decoder = shared_decoder(ctx.settings.decode_threads, ctx.settings.max_request_pixels)
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
        self._metadata = orjson.dumps(metadata(version, ctx.model.spec))

    async def predict(self, request: Request) -> Response:
        require_json(request)
        body = await read_buffer(request, self._limit)
        read = partial(read_json, body, partial(tf_serving_payload, input_name=self._input.name))
        payload = await off_loop_if_large(self._decoder, len(body), read)
        del body, read  # read: the body's buffer goes now, not after the answer
        if not isinstance(payload, dict):
            raise InvalidInputError('the body must be a JSON object with "instances" or "inputs"')
        signature = payload.get("signature_name", SIGNATURE)
        if not isinstance(signature, str):
            raise InvalidInputError(f'"signature_name" must be a string, not {clip(signature)}')
        if signature not in ("", SIGNATURE):
            raise InvalidInputError(f"Serving signature name: {clip(signature)} not found")
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
        pixels = await self._pixels(payload[key], key)
        probs = self._model.predict(pixels)
        return self._respond.json(orjson.dumps({answer: probs}, option=_NUMPY))

    async def status(self, request: Request) -> Response:
        return self._respond.json(self._status)

    async def metadata(self, request: Request) -> Response:
        return self._respond.json(self._metadata)

    async def _pixels(self, value: Any, key: str) -> np.ndarray:
        what = f'"{key}"'
        spec = self._input
        if isinstance(value, dict) and "b64" not in value:  # columnar, the input named
            value = _named(value, what, spec.name)
        if isinstance(value, np.ndarray):  # numbers, read by the fast path
            check_batch_size(len(value), what, self._max_batch)
            return unit_pixels(batch_of_images(value, what, self._max_batch, spec), what, spec)
        if isinstance(value, dict) and "b64" in value:  # one image
            value = [value]
        if not isinstance(value, list):
            raise InvalidInputError(f"{what} must be a list of images")
        check_batch_size(len(value), what, self._max_batch)
        array = numbers_array(value, what)  # None: not every instance is numbers
        if array is not None:
            return unit_pixels(batch_of_images(array, what, self._max_batch, spec), what, spec)
        if len(value) > MAX_ENCODED_IMAGES:  # decoding images costs far more than numbers
            raise BatchTooLargeError(
                f"{what} holds {len(value)} instances that are not all numbers: at most "
                f"{MAX_ENCODED_IMAGES} encoded (b64) images per request"
            )
        rows = [self._instance(item, f"{what}[{i}]") for i, item in enumerate(value)]
        encoded = [row for row in rows if isinstance(row, bytes)]
        if encoded:  # priced, then decoded off the event loop
            decoded = iter(await self._decoder.decode(encoded))
            rows = [next(decoded)[None] if isinstance(row, bytes) else row for row in rows]
        return np.ascontiguousarray(np.concatenate(rows), dtype=np.float32)

    def _instance(self, item: Any, what: str) -> np.ndarray | bytes:
        """One instance → float32 [1, 784], or the bytes of its encoded (b64) image."""
        spec = self._input
        if isinstance(item, dict):
            if "b64" in item:
                return _b64(item["b64"], what)
            item = _named(item, what, spec.name)
            if isinstance(item, dict) and "b64" in item:
                return _b64(item["b64"], what)
        return unit_pixels(one_image(to_array(item, what), what, spec), what, spec)


def _named(value: dict[str, Any], what: str, name: str) -> Any:
    """The value of the one input, ``name``, in an object that names its inputs."""
    unknown = sorted(set(value) - {name})
    if unknown or name not in value:
        raise InvalidInputError(
            f"{what} names input(s) {clip(sorted(value))}: the model's only input is {name!r}"
        )
    return value[name]


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidInputError(f'{what}: "b64" must be a base64 string')
    try:
        return b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f'{what}: "b64" is not valid base64') from None


def metadata(version: str, spec: TensorSpec) -> dict[str, Any]:
    """``GET /v1/models/mnist/metadata``: the signature, from the tensor spec."""

    def tensor(tensor_name: str, dtype: str, dims: tuple[int | None, ...]) -> dict[str, Any]:
        return {
            "dtype": TF_DATATYPES[dtype],
            "tensor_shape": {
                "dim": [{"size": str(-1 if d is None else d), "name": ""} for d in dims],
                "unknown_rank": False,
            },
            "name": tensor_name,
        }

    inp, out = spec.input, spec.output
    return {
        "model_spec": {"name": MODEL_ROUTE_NAME, "signature_name": "", "version": version},
        "metadata": {
            "signature_def": {
                "signature_def": {
                    SIGNATURE: {
                        "inputs": {
                            inp.name: tensor(f"{SIGNATURE}_{inp.name}:0", inp.dtype, inp.shape)
                        },
                        "outputs": {
                            out.name: tensor(f"{SIGNATURE}_output_0:0", out.dtype, out.shape)
                        },
                        "method_name": "tensorflow/serving/predict",
                    }
                }
            }
        },
    }
