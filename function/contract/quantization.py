"""The quantization record of a version (``quantization`` in ``manifest.json``).

A version may serve an int8 quantization of its float ``model.tflite``: the training job
publishes one only when it passed gates against the float model on the whole test set, and
records here the figures and the gates. ``runtime.quantization`` in the manifest says
``none`` (the float file is served) or this record's ``mode``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from function.contract.errors import ManifestError

NONE = "none"
INT8 = "int8"
QUANTIZATIONS = (NONE, INT8)
_KINDS = {"str": str, "float": float, "int": int}


@dataclass(frozen=True)
class Quantization:
    """How the quantized served file compares with the float model on the test images:
    its accuracy, the float model's, the share of images where their argmax agree, and
    the gates it passed (largest accuracy drop, smallest agreement)."""

    mode: str
    test_accuracy: float
    float_test_accuracy: float
    argmax_agreement: float
    images: int
    representative_examples: int
    max_accuracy_drop: float
    min_argmax_agreement: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: Any) -> Quantization:
        """The typed record from its JSON form; KeyError/ValueError when malformed."""
        if not isinstance(value, Mapping):
            raise ManifestError("manifest quantization must be an object")
        kinds = {f.name: _KINDS[str(f.type)] for f in fields(cls)}
        return cls(**{name: kind(value[name]) for name, kind in kinds.items()})


def parse_quantization(runtime: Mapping[str, Any], value: Any) -> Quantization | None:
    """The record of a manifest whose runtime says ``runtime["quantization"]`` (absent in
    manifests older than quantization: ``none``); ManifestError when they disagree."""
    mode = runtime.get("quantization", NONE)
    if mode not in QUANTIZATIONS:
        raise ManifestError(f"manifest runtime.quantization {mode!r} is not one of {QUANTIZATIONS}")
    quantization = None if value is None else Quantization.from_dict(value)
    recorded = quantization.mode if quantization else NONE
    if recorded != mode or (quantization is not None and mode == NONE):
        raise ManifestError(
            f"manifest runtime.quantization {mode!r} disagrees with its quantization record"
        )
    return quantization
