"""The error answers of the OpenAPI document: each status's description, the ones every
route may give (:mod:`function.protocols.openapi` adds them to each operation, in the
route's error style), and the refusals that come before any route."""

from __future__ import annotations

from typing import Any

from function.inputs.images import MAX_ENCODED_IMAGES
from function.web.errors import ErrorStyle

ERROR_SCHEMAS = {ErrorStyle.PLAIN: "PlainError", ErrorStyle.NESTED: "NestedError"}
ERRORS = {
    400: "Bad request: malformed JSON, wrong shape or dtype, NaN/inf, out of range",
    404: "No such model or version",
    405: "Method not allowed: the Allow header lists the path's methods",
    408: "The body stalled: nothing for BODY_TIMEOUT_SECONDS while it was read (the "
    "connection is closed)",
    413: "Body over MAX_BODY_BYTES or batch over MAX_BATCH",
    415: "Unsupported Content-Type or Content-Encoding",
}
PICTURES_413 = (
    f"{ERRORS[413]}, over {MAX_ENCODED_IMAGES} pictures, or pictures of more than "
    "MAX_REQUEST_PIXELS pixels together"
)
# What any request may get before it is routed (function.web.connections), the connection
# closed after each: properties of the server, not of an operation, so the document's
# description lists them (in the error style of the path's protocol).
CONNECTION_ERRORS = {
    400: "a malformed request line, header or target",
    408: "request line and headers not all in within HEADER_TIMEOUT_SECONDS",
    414: "a request target over MAX_HEADER_BYTES",
    431: "over MAX_HEADERS header fields or MAX_HEADER_BYTES of them",
    501: "a method the HTTP parser does not know",
    503: "MAX_CONNECTIONS connections open on the worker (Retry-After: 1)",
}


def connection_errors() -> str:
    """The document's sentence on the refusals that come before any route."""
    refusals = "; ".join(f"{status} for {text}" for status, text in CONNECTION_ERRORS.items())
    return (
        "Before any route, a request may be refused (JSON in its path's error style, the "
        f"connection closed): {refusals}."
    )


def add_errors(responses: dict[str, Any], style: ErrorStyle) -> None:
    """The statuses of every route: 405 for another method, and 408 when a body it reads
    stalls (an operation's own description of one is kept)."""
    schema = ref(ERROR_SCHEMAS[style])
    responses.setdefault("405", json_body(schema, ERRORS[405]))
    if "413" in responses:  # it reads a body
        responses.setdefault("408", json_body(schema, ERRORS[408]))


def ref(name: str) -> dict[str, Any]:
    """A reference to the document's schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A JSON response (or request body) of ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}
