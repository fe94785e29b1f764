"""The fast path for JSON bodies: simdjson parses the text once, and a tensor's numbers
come out of it as one buffer, without a Python object per pixel.

orjson builds a Python float per pixel and numpy then converts the lists (with the check
for booleans: a TF Serving request of 1,024 images, 3.5 MB, took 58-135 ms in-process
here); simdjson parses the text and hands the numbers over as one buffer (the same
request 22-30 ms, ~7 ms of it parsing). ``as_buffer`` flattens nested arrays
and refuses anything that is not a number (booleans, null, strings, objects), so what is
left to prove is the shape: every array above the numbers is walked and its length
checked, and every ``[`` in the body must be one of the arrays accounted for — so no
array hides among the numbers, and no ``[`` sits in a string (that body just takes the
general path).

The fast path is only ever a shortcut to the general (orjson) path's answer: it reads
bodies the general path reads, to the same values (the tensors as numpy arrays instead of
nested lists), and returns None for anything it cannot prove — invalid JSON, a byte-order
mark, repeated keys, ragged or non-numeric tensors, deep or large non-tensor parts — and
the general path then gives the precise 400.

Bodies are parsed by one parser kept for the next body (:func:`parse`): simdjson sizes
its buffers to the document (~4x the body, and a padded copy of it), and a fresh parser's
~6 MB for a 256-digit batch were fresh mappings, page-faulted in on every request (4.4 ms
to read that batch; 2.4 ms with the parser kept). One parser serves both threads that
parse (the event loop's small bodies, the JSON thread's large ones: simdjson holds the GIL
while it parses); while a document of the kept parser is still being read, pysimdjson
refuses to parse with it again (checked under the GIL), and that body gets a parser of its
own. So do bodies over ``REUSE_BYTES``: the process keeps at most ~4x ``REUSE_BYTES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import simdjson

from function.contract.spec import SPEC, InputSpec
from function.inputs.tensors import unit_rows

# simdjson reports bad numbers as ValueError and 64-bit overflow as RuntimeError.
FAST_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, RuntimeError)
BYTE_ORDER_MARK = b"\xef\xbb\xbf"  # simdjson skips one; orjson (the general path) refuses it
MAX_TENSOR_DEPTH = 3  # [N, 28, 28]: anything deeper is left to the general path
MAX_PLAIN_VALUES = 4096  # values outside tensors (ids, parameters...): more → general path
MAX_PLAIN_DEPTH = 32
NUMPY_TYPES = {"d": np.float64, "i": np.int64}  # as_buffer's types: double, int64
REUSE_BYTES = 2 * 1024 * 1024  # a 256-digit JSON batch is ~1.1-1.5 MB
_REUSED = "re-use a parser"  # simdjson's refusal while a document of the parser is alive
_kept: list[simdjson.Parser] = []  # the kept parser, made at the first parse
COUNT_CHUNK = 64 * 1024
OPEN = ord("[")


def parse(body: bytes | np.ndarray) -> Any:
    """``body``'s simdjson document, read by the kept parser (a new one for a body over
    ``REUSE_BYTES``, or while a document of the kept one is still alive)."""
    if len(body) > REUSE_BYTES:
        return simdjson.Parser().parse(body)
    if not _kept:
        _kept.append(simdjson.Parser())
    parser = _kept[0]
    try:
        return parser.parse(body)
    except RuntimeError as exc:
        if _REUSED not in str(exc):
            raise
        return simdjson.Parser().parse(body)


def brackets(body: bytes | np.ndarray) -> int:
    """``body.count(b"[")``; a large body's (or a streamed one's buffer) by numpy, 64 KB at
    a time (a 1.5 MB batch: 0.10 ms instead of 0.39)."""
    if type(body) is bytes and len(body) <= COUNT_CHUNK:
        return body.count(b"[")
    data = np.frombuffer(body, np.uint8)
    hits = np.empty(COUNT_CHUNK, np.bool_)
    total = 0
    for start in range(0, len(data), COUNT_CHUNK):
        part = data[start : start + COUNT_CHUNK]
        found = hits[: len(part)]
        np.equal(part, OPEN, out=found)
        total += int(np.count_nonzero(found))
    return total


def _one_or_count(body: bytes | np.ndarray) -> int:
    """The ``[`` in ``body``: one digit's body has one, told by two ``find`` (0.1 µs, where
    counting 6 KB takes 1.5)."""
    if type(body) is bytes:
        first = body.find(b"[")
        if first < 0 or body.find(b"[", first + 1) < 0:
            return 0 if first < 0 else 1
    return brackets(body)


def starts_with_bom(body: bytes | np.ndarray) -> bool:
    return bytes(body[:3]) == BYTE_ORDER_MARK


class NotFast(Exception):  # noqa: N818 - a verdict, not an error: the general path decides
    """The body is not one the fast path can prove: the general path reads it."""


class FastJson:
    """One body parsed by simdjson, converted to Python with its tensors as numpy arrays;
    every conversion counts the arrays it accounts for."""

    def __init__(self, body: bytes | np.ndarray) -> None:
        if starts_with_bom(body):
            raise NotFast
        self.root = parse(body)
        self.brackets = _one_or_count(body)
        self.arrays = 0
        self.plain_values = 0

    def complete(self, result: Any) -> Any:
        """``result`` if every array of the body was accounted for; NotFast otherwise."""
        if self.arrays != self.brackets:
            raise NotFast
        return result

    def object(
        self, value: Any, special: Mapping[str, Callable[[Any], Any]], depth: int = 0
    ) -> dict[str, Any]:
        """An object → dict; the keys in ``special`` converted by their function, the
        others as plain values. NotFast for anything but an object, or a repeated key."""
        if not isinstance(value, simdjson.Object):
            raise NotFast
        keys = list(value)
        if len(set(keys)) != len(keys):
            raise NotFast
        self._spend(len(keys))
        return {
            key: special[key](value[key]) if key in special else self.plain(value[key], depth)
            for key in keys
        }

    def plain(self, value: Any, depth: int = 0) -> Any:
        """A value outside the tensors → Python, as orjson would give it."""
        if isinstance(value, simdjson.Array):
            if depth > MAX_PLAIN_DEPTH:
                raise NotFast
            self._spend(len(value))
            self.arrays += 1
            return [self.plain(item, depth + 1) for item in value]
        if isinstance(value, simdjson.Object):
            if depth > MAX_PLAIN_DEPTH:
                raise NotFast
            return self.object(value, {}, depth + 1)
        return value  # str, int, float, bool or None: already Python

    def array(self, value: Any, convert: Callable[[Any], Any]) -> Any:
        """An array → list, each item converted by ``convert``; anything else → plain."""
        if not isinstance(value, simdjson.Array):
            return self.plain(value)
        self._spend(len(value))
        self.arrays += 1
        return [convert(item) for item in value]

    def numbers(self, value: Any, of_type: str = "d") -> Any:
        """An array of numbers (nested, rectangular) → ndarray of its shape, float64
        (``d``) or int64 (``i``); anything but an array → a plain value."""
        if not isinstance(value, simdjson.Array):
            return self.plain(value)
        shape = _shape(value)
        self.arrays += _walk(value, shape)
        pixels = np.frombuffer(value.as_buffer(of_type=of_type), dtype=NUMPY_TYPES[of_type])
        if pixels.size != np.prod(shape):
            raise NotFast
        return pixels.reshape(shape)

    def _spend(self, values: int) -> None:
        self.plain_values += values
        if self.plain_values > MAX_PLAIN_VALUES:
            raise NotFast


def _shape(value: simdjson.Array) -> list[int]:
    """The shape the first elements describe: [len, len of the first item, ...]."""
    shape = [len(value)]
    while shape[-1]:
        value = value[0]
        if not isinstance(value, simdjson.Array):
            return shape
        if len(shape) == MAX_TENSOR_DEPTH:
            raise NotFast
        shape.append(len(value))
    raise NotFast  # an empty array: the general path words its error


def _walk(value: simdjson.Array, shape: list[int]) -> int:
    """The number of arrays in ``value`` ([N], [N, M] or [N, M, K]) once each one above
    the numbers is proven an array of its level's length; NotFast otherwise."""
    level = [value]
    for depth, size in enumerate(shape[1:], start=2):
        below = []
        for array in level:
            for item in array:
                if not isinstance(item, simdjson.Array) or len(item) != size:
                    raise NotFast
                below.append(item)
        level = below if depth < len(shape) else []
    arrays, count = 1, 1
    for size in shape[:-1]:
        count *= size
        arrays += count
    return arrays


def open_fast(body: bytes | np.ndarray) -> FastJson | None:
    """The body parsed for the fast path, or None when it cannot take it."""
    try:
        return FastJson(body)
    except (NotFast, *FAST_ERRORS):
        return None


def read_document(document: FastJson, convert: Callable[[FastJson], Any]) -> Any | None:
    """``convert`` applied to the parsed body, or None when the fast path cannot prove it
    (the general path then reads the body)."""
    try:
        return document.complete(convert(document))
    except (NotFast, RecursionError, *FAST_ERRORS):
        return None


def read_fast(body: bytes | np.ndarray, convert: Callable[[FastJson], Any]) -> Any | None:
    """:func:`read_document` of the body, or None when it cannot even be parsed fast."""
    document = open_fast(body)
    return None if document is None else read_document(document, convert)


def parse_images(
    body: bytes | np.ndarray, max_batch: int, spec: InputSpec = SPEC.input
) -> tuple[np.ndarray, bool] | None:
    """:func:`flat_images` of the body."""
    document = open_fast(body)
    return None if document is None else flat_images(document, max_batch, spec)


def flat_images(
    document: FastJson, max_batch: int, spec: InputSpec = SPEC.input
) -> tuple[np.ndarray, bool] | None:
    """``/predict``'s two common forms, ``{"image": [784 numbers]}`` and
    ``{"images": [[784 numbers], ...]}``: ([N, 784] pixels, single?); else None (the
    document is left as it was, for :func:`read_document`).

    The pixels are float64, as JSON has them, and not range-checked here: the caller checks
    them like any other input. A batch whose values are all in range comes as float32
    already (:func:`function.inputs.tensors.unit_rows`).
    """
    features = spec.features
    opened = document.brackets
    if opened == 0 or opened - 1 > max_batch:
        return None
    try:
        doc = document.root
        if not isinstance(doc, simdjson.Object) or len(doc) != 1:
            return None
        if opened == 1:
            image = doc.get("image")
            if not isinstance(image, simdjson.Array) or len(image) != features:
                return None
            pixels = np.frombuffer(image.as_buffer(of_type="d"), dtype=np.float64)
            return pixels.reshape(1, features), True
        images = doc.get("images")
        if not isinstance(images, simdjson.Array) or len(images) != opened - 1:
            return None
        for row in images:
            if not isinstance(row, simdjson.Array) or len(row) != features:
                return None
        rows = (np.frombuffer(row.as_buffer(of_type="d"), dtype=np.float64) for row in images)
        pixels = unit_rows(rows, len(images), spec)
        if pixels is None:  # a value out of range: the batch whole, for the caller's words
            pixels = np.frombuffer(images.as_buffer(of_type="d"), dtype=np.float64)
        return pixels.reshape(len(images), features), False
    except FAST_ERRORS:
        return None
