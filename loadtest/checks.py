"""Checking answers: every protocol's response → the predicted digits, or :class:`BadAnswerError`
(status, shape, probabilities in 0..1 summing to 1, prediction = most probable class)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from client.v2 import read_outputs
from function.contract.spec import PREDICTION_OUTPUT, SPEC

SUM_TOLERANCE = 1e-3  # float32 softmax rows, rounded on the wire


class BadAnswerError(ValueError):
    """An answer the service must not give: the request counts as failed."""


def probabilities(values: Any, count: int) -> np.ndarray:
    """``values`` as float64 [count, classes]: finite, in 0..1, each row summing to 1."""
    try:
        probs = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BadAnswerError(f"probabilities are not numbers ({exc})") from None
    shape = (count, SPEC.output.classes)
    if probs.shape != shape:
        raise BadAnswerError(f"probabilities have shape {list(probs.shape)}, not {list(shape)}")
    if not np.isfinite(probs).all() or probs.min() < 0 or probs.max() > 1 + SUM_TOLERANCE:
        raise BadAnswerError("probabilities outside 0..1")
    worst = float(np.abs(probs.sum(axis=1) - 1).max())
    if worst > SUM_TOLERANCE:
        raise BadAnswerError(f"probabilities sum to 1 ± {worst:.2g}")
    return probs


def agreeing(predicted: Any, probs: np.ndarray) -> np.ndarray:
    """The answer's predicted digits, which must be each row's most probable class."""
    digits = np.asarray(predicted).reshape(-1)
    if digits.shape != (len(probs),) or not np.array_equal(digits, probs.argmax(axis=1)):
        raise BadAnswerError(f"predictions {digits.tolist()} are not the most probable classes")
    return digits.astype(np.int64)


def json_body(content: bytes | None) -> dict[str, Any]:
    try:
        answer = orjson.loads(content or b"")
    except orjson.JSONDecodeError:
        raise BadAnswerError("the body is not JSON") from None
    if not isinstance(answer, dict):
        raise BadAnswerError("the body is not a JSON object")
    return answer


def field(answer: Mapping[str, Any], key: str) -> Any:
    if key not in answer:
        raise BadAnswerError(f"no {key!r} in the answer")
    return answer[key]


def predict_one(content: bytes, headers: Mapping[str, str], count: int) -> np.ndarray:
    """``/predict`` with one digit (JSON or an image): ``prediction`` and ``[[10]]``."""
    answer = json_body(content)
    probs = probabilities(field(answer, "probabilities"), count)
    return agreeing([field(answer, "prediction")], probs)


def predict_batch(content: bytes, headers: Mapping[str, str], count: int) -> np.ndarray:
    """``/predict`` with ``images``: ``predictions`` and ``[[10], ...]``."""
    answer = json_body(content)
    probs = probabilities(field(answer, "probabilities"), count)
    return agreeing(field(answer, "predictions"), probs)


def tfserving(content: bytes, headers: Mapping[str, str], count: int) -> np.ndarray:
    """TF Serving's row format: ``predictions`` [[10], ...]."""
    probs = probabilities(field(json_body(content), "predictions"), count)
    return probs.argmax(axis=1)


def v2(content: bytes, headers: Mapping[str, str], count: int) -> np.ndarray:
    """V2 ``infer`` (JSON or binary tensors): ``probabilities`` [N, 10] and ``prediction``."""
    try:
        outputs = read_outputs(content, headers)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise BadAnswerError(f"not a V2 answer ({type(exc).__name__}: {exc})") from None
    probs = probabilities(field(outputs, SPEC.output.name), count)
    return agreeing(field(outputs, PREDICTION_OUTPUT), probs)
