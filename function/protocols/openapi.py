"""The OpenAPI 3 document of every route, served at ``GET /openapi.json``
(:mod:`function.protocols.openapi_endpoint`, which imports this module on first use).

Derived, not written: the paths and methods are the routing table's
(:func:`function.protocols.routing.routing_table` hands them over), each operation's text and
error statuses are looked up by route name in :data:`OPERATIONS`, and the schemas come
from the tensor spec (:mod:`function.protocols.openapi_schemas`). A test keeps it true: the
service's real answers validate against the response schemas it gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from function.config import Settings
from function.contract.spec import TensorSpec
from function.inputs.tensors import batch_shapes
from function.protocols.openapi_errors import (
    ERROR_SCHEMAS,
    ERRORS,
    PICTURES_413,
    add_errors,
    connection_errors,
    json_body,
    ref,
)
from function.protocols.openapi_page import name_parameter, page_operation, prediction_id_header
from function.protocols.openapi_schemas import PICTURE, schemas
from function.protocols.v2 import HEADER_LENGTH, input_datatypes
from function.web.errors import ErrorStyle
from function.web.paths import MODEL_ROUTE_NAME, NAME, V2_MODEL, VERSION
from function.web.routes import Route

OPENAPI_VERSION = "3.0.3"
BINARY = {"schema": {"type": "string", "format": "binary"}}


@dataclass(frozen=True)
class Operation:
    """What the table does not say about one route: its text, bodies and errors."""

    summary: str  # may name {input}, {datatypes} and {shapes}: filled from the spec
    tag: str
    response: str  # a schema name in components, or "" for a free-form object
    description: str
    errors: tuple[int, ...] = ()
    request: dict[str, Any] = field(default_factory=dict)  # media type → schema name or ""
    extra: dict[str, Any] = field(default_factory=dict)
    pictures: bool = False  # takes PNG/JPEG pictures: their pixels count against a limit


MULTIPART = "multipart/form-data"
PICTURE_TYPES = "image/png, image/jpeg"
_PREDICT_BODY = {
    "application/json": "PredictRequest",
    "image/png": "",
    "image/jpeg": "",
    MULTIPART: "PredictMultipart",
}
_INFER_BODY = {"application/json": "V2InferRequest", "application/octet-stream": ""}
OPERATIONS: dict[str, Operation] = {
    "predict": Operation(
        "Predict the digit in one image, a batch, or a PNG/JPEG picture",
        "predict",
        "PredictAnswer",
        "One prediction (for image, PNG, JPEG, multipart) or one per image",
        (400, 413, 415),
        _PREDICT_BODY,
        pictures=True,
    ),
    "openapi": Operation("This document", "service", "", "The OpenAPI document"),
    "tfserving_predict": Operation(
        "TensorFlow Serving REST predict (row or columnar format)",
        "TensorFlow Serving",
        "TfPredictResponse",
        "Probabilities per image",
        (400, 413, 415),
        {"application/json": "TfPredictRequest"},
        pictures=True,
    ),
    "tfserving_status": Operation(
        "TensorFlow Serving model status",
        "TensorFlow Serving",
        "TfModelStatus",
        "Model version status",
    ),
    "tfserving_metadata": Operation(
        "TensorFlow Serving model metadata (signature)",
        "TensorFlow Serving",
        "TfModelMetadata",
        "Model metadata",
    ),
    "v2_server": Operation(
        "Server metadata", "V2", "V2ServerMetadata", "Server name, version and extensions"
    ),
    "v2_live": Operation("Liveness", "V2", "V2Live", "The server is live"),
    "v2_ready": Operation(
        "Readiness (the Cloud Run probe)", "V2", "V2Ready", "The server and its model are ready"
    ),
    "v2_model": Operation(
        "Model metadata (name, versions, platform, tensors)",
        "V2",
        "V2ModelMetadata",
        "Model metadata",
    ),
    "v2_model_ready": Operation("Model readiness", "V2", "V2ModelReady", "The model is ready"),
    "v2_infer": Operation(
        "Inference: {datatypes} input {input} shaped {shapes}",
        "V2",
        "V2InferResponse",
        "Inference result (binary outputs follow the JSON header, whose length is in the "
        f"{HEADER_LENGTH} response header)",
        (400, 413, 415),
        _INFER_BODY,
    ),
}


def document(
    routes: Iterable[Route],
    server_version: str,
    model_version: str,
    spec: TensorSpec,
    max_batch: int = Settings.max_batch,
    page_files: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The OpenAPI document (JSON-ready) of the routing table ``routes``, for batches of
    at most ``max_batch`` images, the page serving ``page_files`` (default: the files of
    the default static directory)."""
    paths: dict[str, Any] = {}
    for route in routes:
        item = paths.setdefault(route.path, {})
        versioned = VERSION in route.path
        if versioned:
            item["parameters"] = [_version_parameter(model_version)]
        if NAME in route.path:
            item["parameters"] = [name_parameter(page_files)]
        for method in route.handlers:
            operation = _operation(route.name, route.style, spec, versioned)
            add_errors(operation["responses"], route.style)
            item[method.lower()] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "digitrun",
            "version": server_version,
            "description": "MNIST digit classifier (LiteRT) behind the /predict API, "
            "TensorFlow Serving REST and the Open Inference Protocol V2 "
            f"(model {MODEL_ROUTE_NAME!r}, version {model_version}), with a page to draw a "
            "digit at / and feedback on predictions at /feedback. Every response "
            f"carries the X-Model-Version header. {connection_errors()}",
        },
        "paths": paths,
        "components": {"schemas": schemas(spec, max_batch)},
    }


def _operation(name: str, style: ErrorStyle, spec: TensorSpec, versioned: bool) -> dict[str, Any]:
    if name == "metrics":
        return _metrics_operation()
    other = page_operation(name)
    if other is not None:
        return other
    op = OPERATIONS[name]
    inp = spec.input
    ranges = {inp.dtype: f"{inp.low:g}..{inp.high:g}", inp.raw_dtype: f"0..{inp.raw_max}"}
    datatypes = " or ".join(
        f"{datatype} ({ranges[dtype]})" for datatype, dtype in input_datatypes(spec).items()
    )
    errors = sorted({*op.errors, 404} if versioned else op.errors)
    schema = ref(op.response) if op.response else {"type": "object"}
    operation: dict[str, Any] = {
        "summary": op.summary.format(input=inp.name, datatypes=datatypes, shapes=batch_shapes(inp)),
        "tags": [op.tag],
        "responses": {
            "200": _ok(name, schema, op.description),
            **{
                str(status): json_body(ref(ERROR_SCHEMAS[style]), _error_text(status, op))
                for status in errors
            },
        },
        **op.extra,
    }
    if op.request:
        content = {
            media: {"schema": ref(schema_name)} if schema_name else _binary(media)
            for media, schema_name in op.request.items()
        }
        if MULTIPART in content:  # the picture's part is itself a PNG or JPEG
            content[MULTIPART]["encoding"] = {"image": {"contentType": PICTURE_TYPES}}
        operation["requestBody"] = {"required": True, "content": content}
    return operation


def _error_text(status: int, op: Operation) -> str:
    return PICTURES_413 if status == 413 and op.pictures else ERRORS[status]


def _ok(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    ok = json_body(schema, description)
    if name == "predict":
        ok["headers"] = prediction_id_header()
    if name == "v2_infer":  # binary outputs: an octet-stream answer with its header
        ok["content"]["application/octet-stream"] = dict(BINARY)
        ok["headers"] = {
            HEADER_LENGTH: {
                "description": "Length of the JSON header when binary outputs follow it",
                "schema": {"type": "integer"},
            }
        }
    return ok


def _binary(media: str) -> dict[str, Any]:
    """A binary request body: an image, or V2's JSON header followed by tensor data."""
    if media != "application/octet-stream":
        return {**BINARY, "description": PICTURE}
    return {
        **BINARY,
        "description": "Binary tensor data extension: the JSON header, its length in the "
        f"{HEADER_LENGTH} request header (required with this Content-Type), followed by "
        "the inputs' binary data (binary_data_size bytes each, as their parameters say)",
    }


def _metrics_operation() -> dict[str, Any]:
    return {
        "summary": "Prometheus metrics (text exposition format 0.0.4)",
        "tags": ["service"],
        "responses": {
            "200": {
                "description": "Every digitrun_* and process metric",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    }


def _version_parameter(model_version: str) -> dict[str, Any]:
    return {
        "name": "version",
        "in": "path",
        "required": True,
        "description": f"The served model version (see GET {V2_MODEL}): any other is a 404",
        "schema": {"type": "string", "enum": [model_version]},
    }
