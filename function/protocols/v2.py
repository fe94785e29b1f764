"""Open Inference Protocol V2 (KServe, Triton, MLServer) with the binary tensor extension.

Input ``image``: FP32 in 0..1 or UINT8 in 0..255, shape [N, 784] or [N, 28, 28], as JSON
``data`` or as binary data after the JSON header (``binary_data_size`` parameter, header
length in ``Inference-Header-Content-Length``). Outputs ``probabilities`` (FP32 [N, 10])
and ``prediction`` (INT64 [N], the most probable digit); a request's ``outputs`` list picks
them, ``binary_data`` (per output) or ``binary_data_output`` (per request) asks for them as
little-endian binary data after the JSON header of the response. Errors are
``{"error": "<message>"}``, as the specification writes them.

Strict where the protocol is: the request ``id`` is a string (echoed exactly),
``binary_data_output`` and ``binary_data`` are booleans, ``parameters`` are objects; the
body is JSON (``Content-Type`` JSON or none), or ``application/octet-stream`` with the
``Inference-Header-Content-Length`` header; anything else is a 415.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response

from function.contract.spec import (
    PREDICTION_DTYPE,
    PREDICTION_OUTPUT,
    V2_DATATYPES,
    WIRE_DTYPES,
    InputSpec,
    TensorSpec,
)
from function.inputs.decoding import shared_decoder
from function.inputs.errors import InvalidInputError
from function.inputs.fastbodies import off_loop_if_large, read_json, v2_payload
from function.inputs.tensors import (
    batch_shapes,
    byte_pixels,
    check_batch_size,
    to_array,
    unit_pixels,
)
from function.web.body import is_json, media_type, read_buffer
from function.web.context import Context
from function.web.errors import UnsupportedMediaTypeError, clip
from function.web.paths import MODEL_ROUTE_NAME

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
SERVER_NAME = "digitrun"
EXTENSIONS = ("binary_tensor_data",)
PLATFORM = "tflite"
HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_MEDIA = "application/octet-stream"
_HEADER_LENGTH = HEADER_LENGTH.lower()  # as the ASGI server hands headers over
# dtype → the numpy dtype of its binary form (little-endian, row-major)
_BINARY = {dtype: np.dtype(wire) for dtype, wire in WIRE_DTYPES.items()}


def input_datatypes(spec: TensorSpec) -> dict[str, str]:
    """The V2 datatypes the input accepts → their dtype: the model's own (FP32, scaled
    0..1) and the raw pixels it is scaled from (UINT8, 0..255)."""
    return {V2_DATATYPES[d]: d for d in (spec.input.dtype, spec.input.raw_dtype)}


def model_metadata(version: str, spec: TensorSpec) -> dict[str, Any]:
    """``GET /v2/models/mnist``: name, version, platform and tensors, from the spec."""
    inp, out = spec.input, spec.output
    return {
        "name": MODEL_ROUTE_NAME,
        "versions": [version],
        "platform": PLATFORM,
        "inputs": [
            {"name": inp.name, "datatype": V2_DATATYPES[inp.dtype], "shape": [-1, inp.features]}
        ],
        "outputs": [
            {"name": out.name, "datatype": V2_DATATYPES[out.dtype], "shape": [-1, out.classes]},
            {"name": PREDICTION_OUTPUT, "datatype": V2_DATATYPES[PREDICTION_DTYPE], "shape": [-1]},
        ],
    }


class V2Api:
    def __init__(self, ctx: Context, server_version: str) -> None:
        self._model = ctx.model
        self._respond = ctx.respond
        self._limit = ctx.settings.max_body_bytes
        self._max_batch = ctx.settings.max_batch
        self._version = ctx.model.version
        self._spec = spec = ctx.model.spec
        self._datatypes = input_datatypes(spec)
        self._decoder = shared_decoder(ctx.settings.decode_threads, ctx.settings.max_request_pixels)
        self._outputs = (spec.output.name, PREDICTION_OUTPUT)
        self._server = orjson.dumps(
            {"name": SERVER_NAME, "version": server_version, "extensions": list(EXTENSIONS)}
        )
        self._metadata = orjson.dumps(model_metadata(self._version, spec))
        self._live = orjson.dumps({"live": True})
        self._ready = orjson.dumps({"ready": True})
        self._model_ready = orjson.dumps({"name": MODEL_ROUTE_NAME, "ready": True})

    async def server_metadata(self, request: Request) -> Response:
        return self._respond.json(self._server)

    async def live(self, request: Request) -> Response:
        return self._respond.json(self._live)

    async def ready(self, request: Request) -> Response:
        # A process that answers holds a verified, opened model (function.runtime.served).
        return self._respond.json(self._ready)

    async def model_metadata(self, request: Request) -> Response:
        return self._respond.json(self._metadata)

    async def model_ready(self, request: Request) -> Response:
        return self._respond.json(self._model_ready)

    async def infer(self, request: Request) -> Response:
        header_length = request.headers.get(_HEADER_LENGTH)
        media = media_type(request)
        if not is_json(media) and (media != BINARY_MEDIA or header_length is None):
            raise UnsupportedMediaTypeError(
                f"Content-Type {clip(request.headers.get('content-type'))} is not supported: "
                f"send application/json, or {BINARY_MEDIA} with {HEADER_LENGTH}"
            )
        binary: bytes | memoryview = b""
        header: bytes | np.ndarray
        if header_length is None:  # JSON: a streamed body's buffer is parsed as it is
            header = await read_buffer(request, self._limit)
        else:  # the tensors are read where the body was written: no copy before LiteRT's
            tensors_at = int(header_length) if header_length.isdigit() else 0
            body = memoryview(await read_buffer(request, self._limit, tensors_at))
            split = _header_length(header_length, len(body))
            header, binary = bytes(body[:split]), body[split:]
        read = partial(read_json, header, partial(v2_payload, datatypes=self._datatypes))
        payload = await off_loop_if_large(self._decoder, len(header), read)
        del header, read  # read: a JSON body's buffer goes now, not after the answer
        if not isinstance(payload, dict):
            raise InvalidInputError("the inference request must be a JSON object")
        request_id = payload.get("id")
        if request_id is not None and not isinstance(request_id, str):
            raise InvalidInputError(f'"id" must be a string, not {clip(request_id)}')
        pixels = self._input(payload, binary)
        wanted = _requested(payload.get("outputs"), self._outputs)  # refused before inference
        binary_default = _flag(_parameters(payload, "the request"), "binary_data_output")
        probs = self._model.predict(pixels)
        return self._answer(request_id, binary_default, probs, wanted)

    def _input(self, payload: dict[str, Any], binary: bytes | memoryview) -> np.ndarray:
        spec = self._spec.input
        inputs = payload.get("inputs")
        if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
            raise InvalidInputError(f'"inputs" must list exactly one tensor, {spec.name!r}')
        tensor = inputs[0]
        name = tensor.get("name")
        if name != spec.name:
            raise InvalidInputError(
                f"unexpected inference input {clip(name)} for model {MODEL_ROUTE_NAME!r}: "
                f"its input is {spec.name!r}"
            )
        datatype = tensor.get("datatype")
        kind = self._datatypes.get(datatype) if isinstance(datatype, str) else None
        if kind is None:
            accepted = " or ".join(self._datatypes)
            raise InvalidInputError(
                f"input {spec.name!r} datatype {clip(datatype)}: send {accepted}"
            )
        dtype = _BINARY[kind]
        what = f"input {spec.name!r}"
        shape = _shape(tensor.get("shape"), self._max_batch, spec, what)
        count = shape[0] * spec.features
        size = _parameters(tensor, what).get("binary_data_size")
        if size is not None:
            expected = count * dtype.itemsize
            if type(size) is not int or size != expected or len(binary) != size:
                raise InvalidInputError(
                    f"{what}: binary_data_size {clip(size)} with {len(binary)} binary bytes after "
                    f"the header, but shape {shape} of {datatype} needs {expected} bytes"
                )
            array = np.frombuffer(binary, dtype=dtype, count=count).reshape(shape[0], spec.features)
        else:
            if len(binary):
                raise InvalidInputError(f"{len(binary)} binary bytes follow the header unused")
            data = tensor.get("data")
            if data is None:
                raise InvalidInputError(f'{what} has neither "data" nor binary_data_size')
            array = to_array(data, what)
            if array.size != count:
                raise InvalidInputError(
                    f"{what} has {array.size} values, but shape {shape} needs {count}"
                )
            array = array.reshape(shape[0], spec.features)
        if kind == spec.raw_dtype:
            return byte_pixels(array, what, spec)
        return unit_pixels(array, what, spec)

    def _answer(
        self,
        request_id: str | None,
        binary_default: bool,
        probs: np.ndarray,
        wanted: list[tuple[str, bool | None]],
    ) -> Response:
        outputs = []
        blobs: list[np.ndarray] = []  # joined after the header without a copy of their own
        spec = self._spec.output
        for name, binary in wanted:
            if name == spec.name:
                values, dtype, shape = probs, spec.dtype, [probs.shape[0], spec.classes]
            else:
                values, dtype, shape = probs.argmax(axis=1), PREDICTION_DTYPE, [probs.shape[0]]
            datatype = V2_DATATYPES[dtype]
            entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape}
            if binary_default if binary is None else binary:
                blob = np.ascontiguousarray(values, dtype=_BINARY[dtype])
                blobs.append(blob)
                entry["parameters"] = {"binary_data_size": blob.nbytes}
            else:
                entry["data"] = values.ravel()
            outputs.append(entry)
        answer: dict[str, Any] = {"model_name": MODEL_ROUTE_NAME, "model_version": self._version}
        if request_id is not None:
            answer["id"] = request_id
        answer["outputs"] = outputs
        try:
            header = orjson.dumps(answer, option=_NUMPY)
        except orjson.JSONEncodeError as exc:  # only the echoed id comes from the client
            raise InvalidInputError(f'"id" cannot be echoed as JSON: {exc}') from None
        if not blobs:
            return self._respond.json(header)
        extra = ((_HEADER_LENGTH.encode(), str(len(header)).encode()),)
        return self._respond.binary(b"".join((header, *blobs)), extra)


def _requested(outputs: Any, names: tuple[str, str]) -> list[tuple[str, bool | None]]:
    """(name, binary or None for the request's default) for each output to return."""
    if outputs is None:
        return [(name, None) for name in names]
    if not isinstance(outputs, list) or not outputs:
        raise InvalidInputError('"outputs" must be a non-empty list of {"name": ...} objects')
    wanted = []
    for item in outputs:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or name not in names:
            raise InvalidInputError(
                f"unexpected inference output {clip(name)} for model {MODEL_ROUTE_NAME!r}: "
                f"its outputs are {names[0]!r} and {names[1]!r}"
            )
        params = _parameters(item, f"output {name!r}")
        if params.get("classification") is not None:
            raise InvalidInputError("the classification extension is not supported")
        binary = params.get("binary_data")
        wanted.append((name, None if binary is None else _flag(params, "binary_data")))
    return wanted


def _parameters(owner: dict[str, Any], what: str) -> dict[str, Any]:
    """``owner["parameters"]``: an object ({} when absent or null)."""
    params = owner.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidInputError(f'{what}: "parameters" must be an object, not {clip(params)}')
    return params


def _flag(params: dict[str, Any], name: str) -> bool:
    """A boolean parameter (false when absent); 400 for anything but true or false."""
    value = params.get(name, False)
    if type(value) is not bool:
        raise InvalidInputError(f'"{name}" must be true or false, not {clip(value)}')
    return value


def _shape(value: Any, max_batch: int, spec: InputSpec, what: str) -> list[int]:
    """A request's shape: [N, 784] or [N, 28, 28] with N in 1..max_batch."""
    if (
        not isinstance(value, list)
        or not all(isinstance(d, int) and not isinstance(d, bool) for d in value)
        or value[1:] not in ([spec.features], list(spec.image_shape))
    ):
        raise InvalidInputError(f"{what} shape {clip(value)}: expected {batch_shapes(spec)}")
    check_batch_size(value[0], what, max_batch)
    return value


def _header_length(raw: str, body_length: int) -> int:
    try:
        length = int(raw)
    except ValueError:
        raise InvalidInputError(
            f"Inference-Header-Content-Length {clip(raw)} is not a number"
        ) from None
    if not 0 < length <= body_length:
        raise InvalidInputError(
            f"Inference-Header-Content-Length {length} does not fit a {body_length}-byte body"
        )
    return length
