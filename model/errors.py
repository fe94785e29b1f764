"""Typed errors of the training job (the contract's own errors live in
function.contract.errors)."""

from __future__ import annotations

from function.errors import DigitrunError


class DataError(DigitrunError):
    """The MNIST data cannot be read or does not have MNIST's layout."""


class ParityError(DigitrunError):
    """The LiteRT export does not reproduce the Keras model closely enough to publish."""


class EvaluationError(DigitrunError):
    """A published version's recomputed accuracy disagrees with its manifest."""


class TrackingError(DigitrunError):
    """MLflow could not record the run."""


class ReleaseError(DigitrunError):
    """A published version does not meet the release floor."""


class QuantizationError(DigitrunError):
    """A quantized model strays too far from the float model to be published."""
