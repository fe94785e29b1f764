"""Each protocol's JSON body through the fast path (:mod:`function.inputs.fastjson`): the
payload the general path's ``parse_json`` would give, with the tensors as numpy arrays
instead of nested lists, or None (the general path then reads the body).

* ``/predict``: ``"image"`` and ``"images"``;
* TF Serving: ``"instances"`` and ``"inputs"``, as numbers, as an object naming the
  input, or as a list of such objects (``{"b64": ...}`` objects stay plain);
* V2: the ``"data"`` of each of ``"inputs"``, float64 for a float datatype and int64
  for an integer one (an unknown datatype: None, the general path words the 400).

Bodies over ``OFF_LOOP_BYTES`` are read off the event loop, one at a time in the worker's
JSON thread (:meth:`function.inputs.decoding.ImageDecoder.run_serial`), the general path
too: the event loop
waits only while simdjson or orjson parses (they hold the GIL: ~7 ms and ~30 ms for 4 MB
here), not for the whole conversion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import simdjson

from function.inputs.fastjson import FastJson, NotFast, read_fast
from function.web.body import parse_json, to_bytes

if TYPE_CHECKING:
    from function.inputs.decoding import ImageDecoder

OFF_LOOP_BYTES = 256 * 1024  # ~70 JSON digits: below, the thread hop costs more than it saves
_T = TypeVar("_T")


async def off_loop_if_large(
    decoder: ImageDecoder, size: int, function: Callable[..., _T], *arguments: Any
) -> _T:
    """``function(*arguments)`` for a body of ``size`` bytes: in the JSON thread when it is
    over ``OFF_LOOP_BYTES``, here otherwise."""
    if size > OFF_LOOP_BYTES:
        return await decoder.run_serial(function, *arguments)
    return function(*arguments)


def read_json(body: bytes | np.ndarray, fast: Callable[[Any], Any | None]) -> Any:
    """The body's JSON: ``fast(body)``, or the general path's (orjson) when the fast path
    cannot prove it (400 with the parser's reason for a body that is not valid JSON).

    ``body`` may be a streamed body's buffer (:func:`function.web.body.read_buffer`): the
    fast path reads it as it is (a 1.5 MB batch copied to bytes was ~0.7 ms, mostly page
    faults), the general path gets bytes."""
    payload = fast(body)
    return parse_json(to_bytes(body)) if payload is None else payload


def predict_fields(doc: FastJson) -> dict[str, Any]:
    """``/predict``'s body with ``"image"`` and ``"images"`` as arrays."""
    return doc.object(doc.root, {"image": doc.numbers, "images": doc.numbers})


def predict_payload(body: bytes | np.ndarray) -> dict[str, Any] | None:
    return read_fast(body, predict_fields)


def tf_serving_payload(body: bytes | np.ndarray, input_name: str) -> dict[str, Any] | None:
    def convert(doc: FastJson) -> dict[str, Any]:
        value = partial(_tf_value, doc, input_name)
        return doc.object(doc.root, {"instances": value, "inputs": value})

    return read_fast(body, convert)


def _tf_value(doc: FastJson, input_name: str, value: Any) -> Any:
    """``"instances"`` or ``"inputs"``: numbers, ``{input_name: numbers}``, or a list of
    instances that starts with an object (named inputs, b64 images)."""
    named = {input_name: doc.numbers}

    def instance(item: Any) -> Any:
        return doc.object(item, named) if isinstance(item, simdjson.Object) else doc.numbers(item)

    if isinstance(value, simdjson.Object):
        return doc.object(value, named)
    if isinstance(value, simdjson.Array) and len(value) and isinstance(value[0], simdjson.Object):
        return doc.array(value, instance)
    return doc.numbers(value)


def v2_payload(body: bytes | np.ndarray, datatypes: Mapping[str, str]) -> dict[str, Any] | None:
    """``datatypes``: each accepted V2 datatype → its numpy dtype."""

    def convert(doc: FastJson) -> dict[str, Any]:
        tensors = partial(doc.array, convert=partial(_v2_tensor, doc, datatypes))
        return doc.object(doc.root, {"inputs": tensors})

    return read_fast(body, convert)


def _v2_tensor(doc: FastJson, datatypes: Mapping[str, str], value: Any) -> Any:
    if not isinstance(value, simdjson.Object):
        return doc.plain(value)
    datatype = value.get("datatype")
    dtype = datatypes.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise NotFast
    # int64 for integers, else float64: what numpy makes of JSON integers and numbers
    of_type = "i" if np.dtype(dtype).kind in "iu" else "d"
    return doc.object(value, {"data": partial(doc.numbers, of_type=of_type)})
