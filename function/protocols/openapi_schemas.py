"""The OpenAPI document's schemas (``components.schemas``), built from the tensor spec:
pixel counts, image sides, value ranges, tensor names and datatypes are never written here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from function.contract.spec import PREDICTION_OUTPUT, TensorSpec
from function.protocols.openapi_page import feedback_schemas
from function.protocols.v2 import input_datatypes


@dataclass(frozen=True)
class _Parts:
    """Pieces several schemas share, sized by the spec."""

    image: dict[str, Any]
    probs: dict[str, Any]
    digit: dict[str, Any]
    unit: dict[str, Any]
    instance: dict[str, Any]
    tensor_meta: dict[str, Any]
    parameters: dict[str, Any]


def schemas(spec: TensorSpec) -> dict[str, Any]:
    """Every schema the operations refer to, with names, sizes and ranges from ``spec``."""
    parts = _parts(spec)
    return {
        **_errors(),
        **_predict(parts),
        **_tfserving(parts),
        **_v2(parts),
        **_v2_infer(spec, parts),
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
        "properties": {"b64": {"type": "string", "description": "base64 PNG or JPEG"}},
    }
    instance = {"oneOf": [flat, square, b64, {"type": "object", "required": [inp.name]}]}
    tensor_meta = {
        "type": "object",
        "required": ["name", "datatype", "shape"],
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
        },
    }
    parameters = {"type": "object", "additionalProperties": True}
    return _Parts(image, probs, digit, unit, instance, tensor_meta, parameters)


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


def _predict(p: _Parts) -> dict[str, Any]:
    image, probs, digit, unit = p.image, p.probs, p.digit, p.unit
    return {
        "PredictRequest": {
            "oneOf": [
                {"type": "object", "required": ["image"], "properties": {"image": image}},
                {
                    "type": "object",
                    "required": ["images"],
                    "properties": {"images": {"type": "array", "items": image, "minItems": 1}},
                },
            ]
        },
        "PredictAnswer": {"oneOf": [_ref("PredictResponse"), _ref("PredictBatchResponse")]},
        "PredictMultipart": {
            "type": "object",
            "required": ["image"],
            "properties": {"image": {"type": "string", "format": "binary"}},
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


def _tfserving(p: _Parts) -> dict[str, Any]:
    instance, probs = p.instance, p.probs
    return {
        "TfPredictRequest": {
            "type": "object",
            "properties": {
                "signature_name": {"type": "string", "enum": ["serving_default", ""]},
                "instances": {"type": "array", "items": instance, "minItems": 1},
                "inputs": {
                    "oneOf": [
                        {"type": "array", "items": instance, "minItems": 1},
                        {"type": "object"},
                    ]
                },
            },
        },
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


def _v2(p: _Parts) -> dict[str, Any]:
    tensor_meta = p.tensor_meta
    return {
        "V2ServerMetadata": {
            "type": "object",
            "required": ["name", "version", "extensions"],
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "extensions": {"type": "array", "items": {"type": "string"}},
            },
        },
        "V2Live": {"type": "object", "properties": {"live": {"type": "boolean"}}},
        "V2Ready": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
        "V2ModelReady": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
        },
        "V2ModelMetadata": {
            "type": "object",
            "required": ["name", "versions", "platform", "inputs", "outputs"],
            "properties": {
                "name": {"type": "string"},
                "versions": {"type": "array", "items": {"type": "string"}},
                "platform": {"type": "string"},
                "inputs": {"type": "array", "items": tensor_meta},
                "outputs": {"type": "array", "items": tensor_meta},
            },
        },
    }


def _v2_infer(spec: TensorSpec, p: _Parts) -> dict[str, Any]:
    inp, out = spec.input, spec.output
    parameters = p.parameters
    return {
        "V2InferRequest": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string"},
                "parameters": parameters,
                "inputs": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": _tensor(parameters, [inp.name], list(input_datatypes(spec))),
                },
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "enum": [out.name, PREDICTION_OUTPUT]},
                            "parameters": parameters,
                        },
                    },
                },
            },
        },
        "V2InferResponse": {
            "type": "object",
            "required": ["model_name", "outputs"],
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "parameters": parameters,
                "outputs": {
                    "type": "array",
                    "items": _tensor(parameters),
                },
            },
        },
    }


def _tensor(
    parameters: dict[str, Any], names: list[str] | None = None, datatypes: list[str] | None = None
) -> dict[str, Any]:
    """A V2 tensor: name, shape, datatype, parameters, data (names and datatypes
    restricted when given)."""
    name: dict[str, Any] = {"type": "string", **({"enum": names} if names else {})}
    datatype: dict[str, Any] = {"type": "string", **({"enum": datatypes} if datatypes else {})}
    return {
        "type": "object",
        "required": ["name", "shape", "datatype"],
        "properties": {
            "name": name,
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": datatype,
            "parameters": parameters,
            "data": {"type": "array"},
        },
    }


def _array(items: dict[str, Any], size: int) -> dict[str, Any]:
    return {"type": "array", "items": items, "minItems": size, "maxItems": size}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}
