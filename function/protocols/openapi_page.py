"""The OpenAPI operations and schemas of the page (``GET /``), its assets
(``GET /static/{name}``) and feedback on predictions (``POST /feedback``), which
:mod:`function.protocols.openapi` and :mod:`function.protocols.openapi_schemas` merge into
the document. Media types come from the page's table, digits from the tensor spec."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from function.contract.spec import TensorSpec
from function.protocols.openapi_errors import json_body, ref
from function.protocols.page import CONTENT_TYPES, CSP, OTHER, load_assets
from function.protocols.predict import PREDICTION_ID_HEADER
from function.web.paths import PREDICT

STRING = {"type": "string"}
NESTED_ERROR = {"$ref": "#/components/schemas/NestedError"}


def page_operation(name: str) -> dict[str, Any] | None:
    """The operation of route ``name`` when it is one of this module's, else None."""
    if name == "page":
        return _file("The draw-a-digit page", {"text/html": {"schema": STRING}}, "The page")
    if name == "static":
        media = sorted({t.partition(";")[0] for t in (*CONTENT_TYPES.values(), OTHER)})
        binary = {"schema": {"type": "string", "format": "binary"}}
        operation = _file("A file of the page (script, style sheet, image)", {}, "The file")
        operation["responses"]["200"]["content"] = {m: binary for m in media}
        operation["responses"]["404"] = json_body(NESTED_ERROR, "No such file")
        return operation
    if name == "feedback":
        return _feedback()
    return None


def name_parameter(files: Iterable[str] | None = None) -> dict[str, Any]:
    """The page's file name: one of ``files`` (those the page serves; default: the files
    of the default static directory)."""
    names = sorted(load_assets() if files is None else files)
    return {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "A file of the page (any other name is a 404)",
        "schema": {"type": "string", "enum": names},
    }


def prediction_id_header() -> dict[str, Any]:
    """The ``X-Prediction-Id`` header of a single-image ``POST /predict`` answer."""
    return {
        PREDICTION_ID_HEADER.decode().title(): {
            "description": "On single-image answers: the prediction_id of the body, "
            "for POST /feedback",
            "schema": STRING,
        }
    }


def feedback_schemas(spec: TensorSpec) -> dict[str, Any]:
    digit = {"type": "integer", "minimum": 0, "maximum": spec.output.classes - 1}
    prediction_id = {
        "type": "string",
        "minLength": 1,
        "description": f"The prediction_id of a single-image POST {PREDICT} answer",
    }
    return {
        "FeedbackRequest": {
            "type": "object",
            "required": ["prediction_id", "actual"],
            "properties": {"prediction_id": prediction_id, "actual": digit},
        },
        "FeedbackResponse": {
            "type": "object",
            "required": ["prediction_id", "predicted", "actual", "correct"],
            "properties": {
                "prediction_id": prediction_id,
                "predicted": digit,
                "actual": digit,
                "correct": {"type": "boolean"},
            },
        },
    }


def _file(summary: str, content: dict[str, Any], description: str) -> dict[str, Any]:
    headers = {
        "ETag": {"description": "sha256 of the content, quoted", "schema": STRING},
        "Cache-Control": {"description": "no-cache: revalidate every time", "schema": STRING},
    }
    return {
        "summary": summary,
        "tags": ["page"],
        "parameters": [
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "An ETag from an earlier answer: 304 while it is current",
                "schema": STRING,
            }
        ],
        "responses": {
            "200": {
                "description": f"{description} (Content-Security-Policy: {CSP})",
                "headers": headers,
                "content": content,
            },
            "304": {"description": "Not modified: If-None-Match names the current ETag"},
        },
    }


def _feedback() -> dict[str, Any]:
    return {
        "summary": "Say which digit was meant, for a prediction POST /predict made",
        "tags": ["predict"],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref("FeedbackRequest")}},
        },
        "responses": {
            "200": json_body(ref("FeedbackResponse"), "Counted in digitrun_feedback_total"),
            "400": json_body(
                NESTED_ERROR, "Not a JSON object, no prediction_id, actual not a digit"
            ),
            "404": json_body(
                NESTED_ERROR,
                "Unknown prediction id: not issued by this service for the model it serves "
                "(altered, or issued before a restart without FEEDBACK_SECRET)",
            ),
            "410": json_body(NESTED_ERROR, "Expired prediction id (FEEDBACK_TTL_SECONDS)"),
            "413": json_body(NESTED_ERROR, "Body over MAX_BODY_BYTES"),
            "415": json_body(NESTED_ERROR, "Content-Type is not JSON"),
        },
    }
