"""The OpenAPI 3 document of every route, served at ``GET /openapi.json``.

A test keeps it true: its paths and methods equal the routing table's, and the service's
real answers validate against the response schemas it gives.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from function.artifact import IMAGE_PIXELS, NUM_CLASSES
from function.config import MODEL_ROUTE_NAME
from function.context import Context

OPENAPI_VERSION = "3.0.3"
V1 = f"/v1/models/{MODEL_ROUTE_NAME}"
V2_MODEL = f"/v2/models/{MODEL_ROUTE_NAME}"
V2_VERSIONED = f"{V2_MODEL}/versions/{{version}}"


class DocsApi:
    def __init__(self, ctx: Context, server_version: str, metrics: bool = False) -> None:
        self._respond = ctx.respond
        self._body = orjson.dumps(document(server_version, ctx.model.version, metrics))

    async def openapi(self, request: Request) -> Response:
        return self._respond.json(self._body)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(style: str, *statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Bad request: malformed JSON, wrong shape or dtype, NaN/inf, out of range",
        404: "No such model or version",
        413: "Body over MAX_BODY_BYTES or batch over MAX_BATCH",
        415: "Unsupported Content-Type or Content-Encoding",
        503: "The model is not ready",
    }
    return {str(s): _json(_ref(style), reasons[s]) for s in statuses}


def _op(summary: str, tag: str, ok: dict[str, Any], **extra: Any) -> dict[str, Any]:
    errors = extra.pop("errors", {})
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {"200": ok, **errors},
    }
    op.update(extra)
    return op


def _v2_model_routes(prefix: str, versioned: bool) -> dict[str, Any]:
    params = (
        {
            "parameters": [
                {
                    "name": "version",
                    "in": "path",
                    "required": True,
                    "description": "The served model version (see GET /v2/models/mnist)",
                    "schema": {"type": "string"},
                }
            ]
        }
        if versioned
        else {}
    )
    not_found = (404,) if versioned else ()
    infer_body = {
        "required": True,
        "content": {
            "application/json": {"schema": _ref("V2InferRequest")},
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary"},
                "description": "Binary tensor data extension: the JSON header "
                "(Inference-Header-Content-Length bytes) followed by the inputs' binary data",
            },
        },
    }
    infer_ok = {
        "description": "Inference result (binary outputs follow the JSON header, whose length "
        "is in the Inference-Header-Content-Length response header)",
        "headers": {
            "Inference-Header-Content-Length": {
                "description": "Length of the JSON header when binary outputs follow it",
                "schema": {"type": "integer"},
            }
        },
        "content": {
            "application/json": {"schema": _ref("V2InferResponse")},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
    header_param = {
        "name": "Inference-Header-Content-Length",
        "in": "header",
        "required": False,
        "description": "Length of the JSON header when binary tensor data follows it",
        "schema": {"type": "integer", "minimum": 1},
    }
    return {
        prefix: {
            **params,
            "get": _op(
                "Model metadata (name, versions, platform, tensors)",
                "V2",
                _json(_ref("V2ModelMetadata"), "Model metadata"),
                errors=_errors("PlainError", *not_found),
            ),
        },
        f"{prefix}/ready": {
            **params,
            "get": _op(
                "Model readiness",
                "V2",
                _json(_ref("V2ModelReady"), "The model is ready"),
                errors=_errors("PlainError", *not_found, 503),
            ),
        },
        f"{prefix}/infer": {
            **params,
            "post": _op(
                "Inference: FP32 (0..1) or UINT8 (0..255) input image [N,784] or [N,28,28]",
                "V2",
                infer_ok,
                parameters=[header_param],
                requestBody=infer_body,
                errors=_errors("PlainError", 400, *not_found, 413, 415, 503),
            ),
        },
    }


def document(server_version: str, model_version: str, metrics: bool = False) -> dict[str, Any]:
    """The OpenAPI document (JSON-ready); ``metrics``: /metrics is on this port."""
    tf_errors = _errors("PlainError", 400, 413, 415, 503)
    paths: dict[str, Any] = {
        "/predict": {
            "post": _op(
                "Predict the digit in one image, a batch, or a PNG/JPEG picture",
                "predict",
                _json(
                    {"oneOf": [_ref("PredictResponse"), _ref("PredictBatchResponse")]},
                    "One prediction (for image, PNG, JPEG, multipart) or one per image",
                ),
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref("PredictRequest")},
                        "image/png": {"schema": {"type": "string", "format": "binary"}},
                        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["image"],
                                "properties": {"image": {"type": "string", "format": "binary"}},
                            }
                        },
                    },
                },
                errors=_errors("NestedError", 400, 413, 415, 503),
            )
        },
        "/openapi.json": {
            "get": _op(
                "This document",
                "service",
                _json({"type": "object"}, "The OpenAPI document"),
            )
        },
        f"{V1}:predict": {
            "post": _op(
                "TensorFlow Serving REST predict (row or columnar format)",
                "TensorFlow Serving",
                _json(_ref("TfPredictResponse"), "Probabilities per image"),
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": _ref("TfPredictRequest")}},
                },
                errors=tf_errors,
            )
        },
        V1: {
            "get": _op(
                "TensorFlow Serving model status",
                "TensorFlow Serving",
                _json(_ref("TfModelStatus"), "Model version status"),
            )
        },
        f"{V1}/metadata": {
            "get": _op(
                "TensorFlow Serving model metadata (signature)",
                "TensorFlow Serving",
                _json(_ref("TfModelMetadata"), "Model metadata"),
            )
        },
        "/v2": {
            "get": _op(
                "Server metadata",
                "V2",
                _json(_ref("V2ServerMetadata"), "Server name, version and extensions"),
            )
        },
        "/v2/health/live": {
            "get": _op("Liveness", "V2", _json(_ref("V2Live"), "The server is live"))
        },
        "/v2/health/ready": {
            "get": _op(
                "Readiness (the Cloud Run probe)",
                "V2",
                _json(_ref("V2Ready"), "The server and its model are ready"),
                errors=_errors("PlainError", 503),
            )
        },
        **_v2_model_routes(V2_MODEL, versioned=False),
        **_v2_model_routes(V2_VERSIONED, versioned=True),
    }
    if metrics:
        paths["/metrics"] = {
            "get": {
                "summary": "Prometheus metrics (text exposition format 0.0.4)",
                "tags": ["service"],
                "responses": {
                    "200": {
                        "description": "Every digitrun_* and process metric",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "digitrun",
            "version": server_version,
            "description": "MNIST digit classifier (LiteRT) behind the /predict API, "
            "TensorFlow Serving REST and the Open Inference Protocol V2 "
            f"(model {MODEL_ROUTE_NAME!r}, version {model_version}). Every response "
            "carries the X-Model-Version header.",
        },
        "paths": paths,
        "components": {"schemas": _schemas()},
    }


def _schemas() -> dict[str, Any]:
    unit = {"type": "number", "minimum": 0, "maximum": 1}
    flat = {"type": "array", "items": unit, "minItems": IMAGE_PIXELS, "maxItems": IMAGE_PIXELS}
    row = {"type": "array", "items": unit, "minItems": 28, "maxItems": 28}
    square = {"type": "array", "items": row, "minItems": 28, "maxItems": 28}
    image = {"oneOf": [flat, square], "description": "784 pixels or 28x28, white ink on black"}
    probs = {
        "type": "array",
        "items": {"type": "number"},
        "minItems": NUM_CLASSES,
        "maxItems": NUM_CLASSES,
    }
    digit = {"type": "integer", "minimum": 0, "maximum": NUM_CLASSES - 1}
    b64 = {
        "type": "object",
        "required": ["b64"],
        "properties": {"b64": {"type": "string", "description": "base64 PNG or JPEG"}},
    }
    instance = {"oneOf": [flat, square, b64, {"type": "object", "required": ["image"]}]}
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
        "PredictResponse": {
            "type": "object",
            "required": ["prediction", "probabilities", "confidence", "model_version"],
            "properties": {
                "prediction": digit,
                "probabilities": {"type": "array", "items": probs, "minItems": 1, "maxItems": 1},
                "confidence": unit,
                "model_version": {"type": "string"},
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
                    "items": {
                        "type": "object",
                        "required": ["name", "shape", "datatype"],
                        "properties": {
                            "name": {"type": "string", "enum": ["image"]},
                            "shape": {"type": "array", "items": {"type": "integer"}},
                            "datatype": {"type": "string", "enum": ["FP32", "UINT8"]},
                            "parameters": parameters,
                            "data": {"type": "array"},
                        },
                    },
                },
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "enum": ["probabilities", "prediction"]},
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
                    "items": {
                        "type": "object",
                        "required": ["name", "shape", "datatype"],
                        "properties": {
                            "name": {"type": "string"},
                            "shape": {"type": "array", "items": {"type": "integer"}},
                            "datatype": {"type": "string"},
                            "parameters": parameters,
                            "data": {"type": "array"},
                        },
                    },
                },
            },
        },
    }
