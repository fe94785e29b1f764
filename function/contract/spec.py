"""The tensor spec: what the model takes and what it gives, declared once.

Training, export, evaluation, every serving protocol, the metadata routes and the OpenAPI
document read the tensor names, shapes, dtypes and the pixel scaling from here, and the
manifest records them (``input`` / ``output``), so training and serving cannot drift apart.
The one scaling of raw pixels to the model's input is :meth:`InputSpec.scale`: training
applies it to MNIST's uint8 arrays, the service to UINT8 tensors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from function.contract.errors import ManifestError

if TYPE_CHECKING:
    import numpy as np

# The manifest's dtype names ↔ the names each protocol gives them.
V2_DATATYPES = {"float32": "FP32", "uint8": "UINT8", "int64": "INT64"}
TF_DATATYPES = {"float32": "DT_FLOAT", "uint8": "DT_UINT8", "int64": "DT_INT64"}
# Each dtype's binary form on the wire (V2's binary tensor data): little-endian, row-major.
WIRE_DTYPES = {"float32": "<f4", "uint8": "u1", "int64": "<i8"}
LAYOUT = "28x28 grayscale, row-major, white ink on black, scaled 0..1"


@dataclass(frozen=True)
class InputSpec:
    """One image per row: ``height`` x ``width`` pixels flattened row-major, float32 in
    ``low..high``, scaled from raw integer pixels ``0..raw_max`` by division."""

    name: str = "image"
    height: int = 28
    width: int = 28
    dtype: str = "float32"
    low: float = 0.0
    high: float = 1.0
    raw_dtype: str = "uint8"
    raw_max: int = 255
    layout: str = field(default=LAYOUT, compare=False)  # a description, not a property

    @property
    def features(self) -> int:
        """Values per image (784)."""
        return self.height * self.width

    @property
    def shape(self) -> tuple[None, int]:
        """The model's input shape, batch first: (None, 784)."""
        return (None, self.features)

    @property
    def image_shape(self) -> tuple[int, int]:
        """One image as a grid: (28, 28)."""
        return (self.height, self.width)

    def scale(self, raw: np.ndarray) -> np.ndarray:
        """Raw integer pixels (any shape holding whole images) → C-contiguous float32
        [N, features] in ``low..high``: the one scaling, in training and in serving."""
        import numpy as np  # noqa: PLC0415 (the contract stays cheap to import)

        flat = np.asarray(raw).reshape(-1, self.features)
        return np.ascontiguousarray(flat, dtype=np.float32) / np.float32(self.raw_max)

    def as_dict(self) -> dict[str, Any]:
        """The manifest's ``input`` entry."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "range": [self.low, self.high],
            "raw": {"dtype": self.raw_dtype, "max": self.raw_max},
            "layout": self.layout,
        }

    @classmethod
    def from_dict(cls, entry: Any) -> InputSpec:
        """Parse a manifest's ``input`` entry (``raw`` is absent in the first manifests:
        their scaling was uint8 ÷ 255, today's default)."""
        fields = _object(entry, "input", ("name", "shape", "dtype"))
        shape = fields["shape"]
        if not (
            isinstance(shape, list)
            and len(shape) == 2
            and shape[0] is None
            and isinstance(shape[1], int)
        ):
            raise ManifestError(f"manifest input shape {shape!r} is not [null, <pixels>]")
        low, high = fields.get("range", [0.0, 1.0])
        raw = _object(fields.get("raw") or {}, "input raw", ())
        side = round(shape[1] ** 0.5)
        if side * side != shape[1]:
            raise ManifestError(f"manifest input of {shape[1]} pixels is not a square image")
        return cls(
            name=str(fields["name"]),
            height=side,
            width=side,
            dtype=str(fields["dtype"]),
            low=float(low),
            high=float(high),
            raw_dtype=str(raw.get("dtype", cls.raw_dtype)),
            raw_max=int(raw.get("max", cls.raw_max)),
            layout=str(fields.get("layout", LAYOUT)),
        )


@dataclass(frozen=True)
class OutputSpec:
    """One probability per class, per image."""

    name: str = "probabilities"
    classes: int = 10
    dtype: str = "float32"

    @property
    def shape(self) -> tuple[None, int]:
        return (None, self.classes)

    def as_dict(self) -> dict[str, Any]:
        """The manifest's ``output`` entry."""
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}

    @classmethod
    def from_dict(cls, entry: Any) -> OutputSpec:
        fields = _object(entry, "output", ("name", "shape", "dtype"))
        shape = fields["shape"]
        if not (isinstance(shape, list) and len(shape) == 2 and isinstance(shape[1], int)):
            raise ManifestError(f"manifest output shape {shape!r} is not [null, <classes>]")
        return cls(name=str(fields["name"]), classes=shape[1], dtype=str(fields["dtype"]))


@dataclass(frozen=True)
class TensorSpec:
    """The model's one input and one output."""

    input: InputSpec = InputSpec()
    output: OutputSpec = OutputSpec()


# The spec every model this project trains has, and the only one the service serves.
SPEC = TensorSpec()
# The served model's extra output in V2: the most probable class, int64 [N].
PREDICTION_OUTPUT = "prediction"
PREDICTION_DTYPE = "int64"


def _object(entry: Any, what: str, required: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(entry, Mapping):
        raise ManifestError(f"manifest {what} must be an object")
    missing = [key for key in required if key not in entry]
    if missing:
        raise ManifestError(f"manifest {what} lacks {', '.join(missing)}")
    return entry
