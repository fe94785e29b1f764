"""The OpenAPI schemas of the Open Inference Protocol V2 routes, from the tensor spec and
MAX_BATCH (merged into ``components.schemas`` by :mod:`function.protocols.openapi_schemas`)."""

from __future__ import annotations

from typing import Any

from function.contract.spec import PREDICTION_OUTPUT, InputSpec, TensorSpec
from function.protocols.v2 import input_datatypes

NULL = {"nullable": True, "enum": [None]}  # OpenAPI 3.0's "null and nothing else"


def v2_schemas(spec: TensorSpec, parameters: dict[str, Any], max_batch: int) -> dict[str, Any]:
    """The V2 metadata, health and inference schemas."""
    tensor_meta = {
        "type": "object",
        "required": ["name", "datatype", "shape"],
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
        },
    }
    return {**_v2(tensor_meta), **_v2_infer(spec, parameters, max_batch)}


def _v2(tensor_meta: dict[str, Any]) -> dict[str, Any]:
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


def _v2_infer(spec: TensorSpec, parameters: dict[str, Any], max_batch: int) -> dict[str, Any]:
    inp, out = spec.input, spec.output
    flag = {"type": "boolean"}
    no_size = {"properties": {"binary_data_size": NULL}}  # JSON data: no binary size
    tensors = [
        _input_tensor(inp, datatype, max_batch, items, no_size)
        for datatype, items in _input_values(spec).items()
    ]
    output = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "enum": [out.name, PREDICTION_OUTPUT]},
            "parameters": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "binary_data": {**flag, "nullable": True},
                    "classification": NULL,  # the classification extension is not served
                },
            },
        },
    }
    return {
        "V2InferRequest": {  # a null id, parameters or outputs is the same as none
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string", "nullable": True},
                "parameters": {
                    "type": "object",
                    "nullable": True,
                    "properties": {"binary_data_output": flag},
                },
                "inputs": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": {"oneOf": tensors},
                },
                "outputs": {"type": "array", "nullable": True, "minItems": 1, "items": output},
            },
        },
        "V2InferResponse": {
            "type": "object",
            "required": ["model_name", "model_version", "outputs"],
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "outputs": {"type": "array", "minItems": 1, "items": _tensor(parameters)},
            },
        },
    }


def _input_values(spec: TensorSpec) -> dict[str, dict[str, Any]]:
    """Each V2 input datatype → the schema of one of its values."""
    inp = spec.input
    ranges = {
        inp.dtype: {"type": "number", "minimum": inp.low, "maximum": inp.high},
        inp.raw_dtype: {"type": "integer", "minimum": 0, "maximum": inp.raw_max},
    }
    return {datatype: ranges[dtype] for datatype, dtype in input_datatypes(spec).items()}


def _input_tensor(
    inp: InputSpec, datatype: str, max_batch: int, items: dict[str, Any], no_size: dict[str, Any]
) -> dict[str, Any]:
    """The V2 input of one datatype, its values as JSON ``data``: flat, or nested by image
    (rows of 784 or 28x28 grids). JSON Schema cannot say that ``data`` holds as many
    values as ``shape`` says, nor that ``shape`` is [N, 784] or [N, 28, 28]: the
    description does."""
    flat = {
        "type": "array",
        "items": items,
        "minItems": inp.features,
        "maxItems": inp.features * max_batch,
    }
    row = {"type": "array", "items": items, "minItems": inp.features, "maxItems": inp.features}
    grid = {
        "type": "array",
        "items": {"type": "array", "items": items, "minItems": inp.width, "maxItems": inp.width},
        "minItems": inp.height,
        "maxItems": inp.height,
    }
    nested = [
        {"type": "array", "items": image, "minItems": 1, "maxItems": max_batch}
        for image in (row, grid)
    ]
    return {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "description": f"shape [N, {inp.features}] or [N, {inp.height}, {inp.width}] with N "
        f"in 1..{max_batch}: data holds the N x {inp.features} values, row-major, flat or "
        "nested by image",
        "properties": {
            "name": {"type": "string", "enum": [inp.name]},
            "datatype": {"type": "string", "enum": [datatype]},
            "shape": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": max(max_batch, inp.features)},
                "minItems": 2,
                "maxItems": 3,
            },
            "parameters": {"type": "object", "nullable": True, **no_size},
            "data": {  # any of the value's nestings, and one for all the values
                "type": "array",
                "items": {"oneOf": [items, row, grid]},
                "oneOf": [flat, *nested],
            },
        },
    }


def _tensor(parameters: dict[str, Any]) -> dict[str, Any]:
    """A V2 output tensor: name, shape, datatype, and its data or binary size."""
    return {
        "type": "object",
        "required": ["name", "shape", "datatype"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {"type": "string"},
            "parameters": parameters,
            "data": {"type": "array"},
        },
    }
