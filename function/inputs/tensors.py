"""Numbers from a request → the model's input: a C-contiguous float32 [N, 784] in 0..1.

Shapes, range and the scaling of raw integer pixels come from the tensor spec
(:mod:`function.contract.spec`). No Python loop touches a pixel: numpy converts the nested
lists, the shape and dtype are checked on the array, and one min/max pass checks the range
(NaN and infinities fail the same comparison; only then is the slower reason-finding run).
JSON booleans are not numbers: numpy would read ``true`` as 1, so the lists are checked
for them first (a pass over the types, about as fast as numpy's own conversion). Bodies
the fast path (:mod:`function.inputs.fastbodies`) read arrive here as arrays already.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np

from function.contract.spec import SPEC, InputSpec
from function.inputs.errors import BatchTooLargeError, InvalidInputError

_NUMBER_KINDS = "fiu"  # float, signed and unsigned int: not bool, str or object
ROWS_AT_ONCE = 32  # unit_rows' float64 rows between checks: 200 KB, in the heap
JSON_NUMBERS = frozenset({int, float})  # what JSON numbers are in Python


def to_array(data: Any, what: str) -> np.ndarray:
    """A numeric array from JSON numbers (nested lists, or the array the fast path
    already made of them); 400 for anything else."""
    if isinstance(data, np.ndarray):
        return data
    if not isinstance(data, list):
        raise InvalidInputError(f"{what} must be an array of numbers")
    array = numbers_array(data, what)
    if array is not None:
        return array
    try:
        # Objects are enough to tell a ragged array (a list left among the elements) from
        # one of non-numbers (numpy would make strings of every number).
        array = np.asarray(data, dtype=object)
    except (ValueError, TypeError, OverflowError):
        raise InvalidInputError(f"{what} must be a rectangular array of numbers") from None
    if list in set(map(type, array.ravel().tolist())):
        raise InvalidInputError(f"{what} must be a rectangular array of numbers")
    raise InvalidInputError(f"{what} must hold only numbers")


def numbers_array(data: list[Any], what: str) -> np.ndarray | None:
    """Nested lists of JSON numbers as a numeric array; None when they are not all numbers
    or not rectangular (the caller words that, or reads another form); 400 for a boolean."""
    kinds = leaf_types(data)
    if bool in kinds:
        raise InvalidInputError(f"{what} must hold only numbers: true and false are not numbers")
    if not kinds <= JSON_NUMBERS:
        return None
    try:
        array = np.asarray(data)
    except (ValueError, TypeError, OverflowError):
        return None
    return array if array.dtype.kind in _NUMBER_KINDS else None


def leaf_types(data: list[Any]) -> set[type]:
    """The types found in nested lists ``data`` (all of them, unless a bool is found):
    lists of lists are entered, and a list that starts with anything else is a row, whose
    items' types are taken (a list among them too: a ragged array)."""
    kinds: set[type] = set()
    stack = [data]
    while stack and bool not in kinds:  # a boolean decides the 400: no need to go on
        items = stack.pop()
        if items and type(items[0]) is list:
            for item in items:
                if type(item) is list:
                    stack.append(item)
                else:
                    kinds.add(type(item))
        else:
            kinds.update(map(type, items))
    return kinds


def batch_shapes(spec: InputSpec = SPEC.input) -> str:
    """The accepted batch shapes, for messages: ``[N, 784] or [N, 28, 28]``."""
    return f"[N, {spec.features}] or [N, {spec.height}, {spec.width}]"


def batch_of_images(
    array: np.ndarray, what: str, max_batch: int, spec: InputSpec = SPEC.input
) -> np.ndarray:
    """``array`` shaped [N, 784] or [N, 28, 28] → [N, 784]; N in 1..max_batch."""
    shape = array.shape
    if len(shape) == 2 and shape[1] == spec.features:
        pass
    elif len(shape) == 3 and shape[1:] == spec.image_shape:
        array = array.reshape(shape[0], spec.features)
    else:
        raise InvalidInputError(f"{what} has shape {list(shape)}: expected {batch_shapes(spec)}")
    check_batch_size(shape[0], what, max_batch)
    return array


def one_image(array: np.ndarray, what: str, spec: InputSpec = SPEC.input) -> np.ndarray:
    """``array`` shaped [784] or [28, 28] (or either with a leading 1) → [1, 784]."""
    grid = spec.image_shape
    singles = ((spec.features,), grid, (1, spec.features), (1, *grid))
    if array.size != spec.features or array.shape not in singles:
        raise InvalidInputError(
            f"{what} has shape {list(array.shape)}: expected {spec.features} numbers "
            f"or {spec.height}x{spec.width} nested lists"
        )
    return array.reshape(1, spec.features)


def check_batch_size(n: int, what: str, max_batch: int) -> None:
    """400 for an empty batch, 413 for one over MAX_BATCH."""
    if n < 1:
        raise InvalidInputError(f"{what} holds no image")
    if n > max_batch:
        raise BatchTooLargeError(f"{what} holds {n} images: at most {max_batch} per request")


def unit_rows(
    rows: Iterator[np.ndarray], n: int, spec: InputSpec = SPEC.input
) -> np.ndarray | None:
    """``n`` rows of ``spec.features`` float64 pixels → float32 [n, features] when every
    value is in +0.0..high, else None (the caller then reads and checks the batch whole,
    and words the error). The rows are checked in float64, before the conversion could
    round a value just over 1 into range, ``ROWS_AT_ONCE`` at a time: the float64 batch
    is never held whole (256 JSON digits: a 1.6 MB mapping of its own, made, faulted in
    and unmapped again on every request; 0.87 ms in all here against 0.49 this way)."""
    out = np.empty((n, spec.features), np.float32)
    chunk = np.empty((min(n, ROWS_AT_ONCE), spec.features), np.float64)
    start = 0
    while start < n:
        count = min(ROWS_AT_ONCE, n - start)
        for index in range(count):
            chunk[index] = next(rows)
        part = chunk[:count]
        if not _bits_in_range(part, spec):
            return None
        out[start : start + count] = part
        start += count
    return out


def _bits_in_range(array: np.ndarray, spec: InputSpec) -> bool:
    """True when every value of a float32 or float64 ``array`` is in +0.0..high, read in one
    pass: the bits of a float in +0.0..high read as an unsigned integer of its size are
    exactly the integers up to those of ``high`` (a negative number, -0.0, NaN or infinity
    reads higher). False otherwise, and for other types, an empty array or a spec whose
    range does not start at 0: the caller then checks the slow way."""
    unsigned = _UNSIGNED.get(array.dtype.char) if spec.low == 0 and array.size else None
    return unsigned is not None and array.view(unsigned).max() <= _bits(array.dtype.char, spec.high)


def unit_pixels(array: np.ndarray, what: str, spec: InputSpec = SPEC.input) -> np.ndarray:
    """Pixels already in 0..1 → float32 C-contiguous; 400 for NaN, infinity or out of range.

    float32 and float64 pixels (V2 binary tensors, JSON numbers) take one pass instead of
    two (:func:`_bits_in_range`); anything else (-0.0 too) goes on to the full check."""
    if _bits_in_range(array, spec):
        return np.ascontiguousarray(array, dtype=np.float32)
    low = array.min()
    high = array.max()
    if not (low >= spec.low and high <= spec.high):
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise InvalidInputError(f"{what} holds NaN or infinity")
        raise InvalidInputError(
            f"{what} values must be in {spec.low:g}..{spec.high:g} (found {low:g}..{high:g})"
        )
    return np.ascontiguousarray(array, dtype=np.float32)


def byte_pixels(array: np.ndarray, what: str, spec: InputSpec = SPEC.input) -> np.ndarray:
    """Integer pixels in 0..255 (UINT8) → float32 0..1, by the spec's one scaling (the one
    training applied to MNIST)."""
    if array.dtype.kind not in "iu":
        raise InvalidInputError(f"{what} is UINT8: its values must be integers")
    low = array.min()
    high = array.max()
    if not (low >= 0 and high <= spec.raw_max):
        raise InvalidInputError(
            f"{what} is UINT8: values must be in 0..{spec.raw_max} (found {low}..{high})"
        )
    return spec.scale(array)


_UNSIGNED = {"f": np.uint32, "d": np.uint64}  # float32, float64 → the same size unsigned


@functools.lru_cache(maxsize=8)
def _bits(char: str, value: float) -> int:
    return int(np.array(value, char).view(_UNSIGNED[char]))
