"""The OpenAPI document's schemas (``components.schemas``), built from the tensor spec and
MAX_BATCH: pixel counts, image sides, value ranges, tensor names and datatypes are never
written here. A request valid against them is one the service accepts (the fuzz tests
check it), except for what JSON Schema cannot say: a V2 tensor's ``data`` holds as many
values as its ``shape`` says, an encoded image must decode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from function.contract.spec import TensorSpec
from function.inputs.images import MAX_ENCODED_IMAGES
from function.protocols.openapi_errors import ref
from function.protocols.openapi_page import feedback_schemas
from function.protocols.openapi_v2 import NULL, v2_schemas

PICTURE = "A PNG or JPEG picture of one digit (a blank picture is refused with 400)"


@dataclass(frozen=True)
class _Parts:
    """Pieces several schemas share, sized by the spec."""

    image: dict[str, Any]
    probs: dict[str, Any]
    digit: dict[str, Any]
    unit: dict[str, Any]
    instance: dict[str, Any]
    parameters: dict[str, Any]


def schemas(spec: TensorSpec, max_batch: int) -> dict[str, Any]:
    """Every schema the operations refer to, with names, sizes and ranges from ``spec``
    and batches of at most ``max_batch`` images."""
    parts = _parts(spec)
    return {
        **_errors(),
        **_predict(parts, max_batch),
        **_tfserving(parts, max_batch, spec.input.name),
        **v2_schemas(spec, parts.parameters, max_batch),
        **feedback_schemas(spec),
    }


def _parts(spec: TensorSpec) -> _Parts:
    inp, out = spec.input, spec.output
    unit = {"type": "number", "minimum": inp.low, "maximum": inp.high}
    flat = _array(unit, inp.features)
    square = _array(_array(unit, inp.width), inp.height)
    image = {
        "oneOf": [flat, square],
        "description": f"{inp.features} pixels or {inp.height}x{inp.width}: {inp.layout}",
    }
    probs = _array({"type": "number"}, out.classes)
    digit = {"type": "integer", "minimum": 0, "maximum": out.classes - 1}
    b64 = {
        "type": "object",
        "required": ["b64"],
        "properties": {
            "b64": {
                "type": "string",
                "format": "byte",
                "description": "a base64 PNG or JPEG picture of one digit (not blank)",
            }
        },
    }
    named = {
        "type": "object",
        "required": [inp.name],
        "properties": {inp.name: {"oneOf": [flat, square, b64]}},
        "additionalProperties": False,
    }
    instance = {"oneOf": [flat, square, b64, named]}
    parameters = {"type": "object", "additionalProperties": True}
    return _Parts(image, probs, digit, unit, instance, parameters)


def _errors() -> dict[str, Any]:
    return {
        "NestedError": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "integer"},
                        "status": {"type": "string"},
                        "message": {"type": "string"},
                    },
                }
            },
        },
        "PlainError": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
    }


def _predict(p: _Parts, max_batch: int) -> dict[str, Any]:
    image, probs, digit, unit = p.image, p.probs, p.digit, p.unit
    flat, square = image["oneOf"]
    layouts = [
        {"type": "array", "items": layout, "minItems": 1, "maxItems": max_batch}
        for layout in (flat, square)
    ]
    # A null "image" or "images" counts as absent: the first layout of each admits null.
    nullable = {**image, "oneOf": [{**flat, "nullable": True}, square]}
    images = {"oneOf": [{**layouts[0], "nullable": True}, layouts[1]]}  # one layout a batch
    array = {"type": "array"}
    return {
        "PredictRequest": {  # "image" or "images", not both: the other absent or null
            "type": "object",
            "properties": {"image": nullable, "images": images},
            "oneOf": [
                {"required": ["image"], "properties": {"image": array, "images": NULL}},
                {"required": ["images"], "properties": {"images": array, "image": NULL}},
            ],
        },
        "PredictAnswer": {"oneOf": [ref("PredictResponse"), ref("PredictBatchResponse")]},
        "PredictMultipart": {
            "type": "object",
            "required": ["image"],
            "properties": {"image": {"type": "string", "format": "binary", "description": PICTURE}},
        },
        "PredictResponse": {
            "type": "object",
            "required": [
                "prediction",
                "probabilities",
                "confidence",
                "model_version",
                "prediction_id",
            ],
            "properties": {
                "prediction": digit,
                "probabilities": {"type": "array", "items": probs, "minItems": 1, "maxItems": 1},
                "confidence": unit,
                "model_version": {"type": "string"},
                "prediction_id": {"type": "string", "description": "for POST /feedback"},
            },
        },
        "PredictBatchResponse": {
            "type": "object",
            "required": ["predictions", "probabilities", "model_version"],
            "properties": {
                "predictions": {"type": "array", "items": digit},
                "probabilities": {"type": "array", "items": probs},
                "model_version": {"type": "string"},
            },
        },
    }


def _tfserving(p: _Parts, max_batch: int, name: str) -> dict[str, Any]:
    flat, square, b64, _ = p.instance["oneOf"]
    probs = p.probs
    layouts = [
        {"type": "array", "items": layout, "minItems": 1, "maxItems": max_batch}
        for layout in (flat, square)
    ]
    most = min(MAX_ENCODED_IMAGES, max_batch)
    mixed = {"type": "array", "items": p.instance, "minItems": 1, "maxItems": most}
    batch = {
        "anyOf": [*layouts, mixed],
        "description": f"Images of one layout (at most {max_batch}), or at most {most} "
        "instances of any kind (b64 pictures, named, mixed layouts)",
    }
    named = {
        "type": "object",
        "required": [name],
        "properties": {name: {"oneOf": [batch, b64]}},
        "additionalProperties": False,
    }
    value = {"oneOf": [batch, b64, named]}  # the same for "instances" and "inputs"
    return {
        "TfPredictRequest": {
            "type": "object",
            "properties": {
                "signature_name": {"type": "string", "enum": ["serving_default", ""]},
                "instances": value,
                "inputs": value,
            },
            "oneOf": [{"required": ["instances"]}, {"required": ["inputs"]}],
        },
        **_tf_answers(probs),
    }


def _tf_answers(probs: dict[str, Any]) -> dict[str, Any]:
    """TF Serving's predict answer, model status and metadata."""
    return {
        "TfPredictResponse": {
            "type": "object",
            "properties": {
                "predictions": {"type": "array", "items": probs},
                "outputs": {"type": "array", "items": probs},
            },
        },
        "TfModelStatus": {
            "type": "object",
            "required": ["model_version_status"],
            "properties": {
                "model_version_status": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["version", "state", "status"],
                        "properties": {
                            "version": {"type": "string"},
                            "state": {"type": "string"},
                            "status": {"type": "object"},
                        },
                    },
                }
            },
        },
        "TfModelMetadata": {
            "type": "object",
            "required": ["model_spec", "metadata"],
            "properties": {"model_spec": {"type": "object"}, "metadata": {"type": "object"}},
        },
    }


def _array(items: dict[str, Any], size: int) -> dict[str, Any]:
    return {"type": "array", "items": items, "minItems": size, "maxItems": size}
