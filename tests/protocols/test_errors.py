"""The one exception → answer mapping: every error class's status, metrics reason, body in
both styles and extra headers; anything unexpected is a 500 that says nothing more."""

from __future__ import annotations

import logging

import numpy as np
import orjson
import pytest

from client.v2 import binary_request
from function.contract.errors import ArtifactError, ManifestError, StorageError
from function.contract.spec import SPEC
from function.errors import DigitrunError, RequestError
from function.inputs.errors import BatchTooLargeError, InvalidInputError
from function.observability import logs
from function.protocols.routing import routing_table
from function.web.app import App
from function.web.context import Context
from function.web.errors import (
    INTERNAL_MESSAGE,
    BodyTooLargeError,
    ClientDisconnectedError,
    ErrorStyle,
    MethodNotAllowedError,
    ModelNotFoundError,
    NotFoundError,
    UnsupportedMediaTypeError,
    error_response,
)
from function.web.routes import Route, Router
from tests.protocols.conftest import SERVER_VERSION, call
from tests.protocols.fake import VERSION

CLIENT_ERRORS = [
    # class, status, reason, canonical status, extra headers
    (RequestError, 400, "invalid_input", "INVALID_ARGUMENT", ()),
    (InvalidInputError, 400, "invalid_input", "INVALID_ARGUMENT", ()),
    (BatchTooLargeError, 413, "batch_too_large", "PAYLOAD_TOO_LARGE", ()),
    (NotFoundError, 404, "not_found", "NOT_FOUND", ()),
    (ModelNotFoundError, 404, "model_not_found", "NOT_FOUND", ()),
    (BodyTooLargeError, 413, "body_too_large", "PAYLOAD_TOO_LARGE", ((b"connection", b"close"),)),
    (
        ClientDisconnectedError,
        400,
        "client_disconnected",
        "INVALID_ARGUMENT",
        ((b"connection", b"close"),),
    ),
    (UnsupportedMediaTypeError, 415, "unsupported_media_type", "UNSUPPORTED_MEDIA_TYPE", ()),
]


@pytest.mark.parametrize("style", list(ErrorStyle))
@pytest.mark.parametrize(
    ("cls", "status", "reason", "canonical", "headers"),
    CLIENT_ERRORS,
    ids=[c[0].__name__ for c in CLIENT_ERRORS],
)
def test_client_errors(cls, status, reason, canonical, headers, style):
    assert (cls.status, cls.reason) == (status, reason)
    answer = error_response(cls("what went wrong: 'x'"), style)
    assert (answer.status, answer.reason, answer.headers) == (status, reason, headers)
    body = orjson.loads(answer.body)
    if style is ErrorStyle.PLAIN:
        assert body == {"error": "what went wrong: 'x'"}
    else:
        expected = {"code": status, "status": canonical, "message": "what went wrong: 'x'"}
        assert body == {"error": expected}


@pytest.mark.parametrize("style", list(ErrorStyle))
def test_method_not_allowed_names_the_allowed_methods(style):
    answer = error_response(MethodNotAllowedError("PUT is not allowed", ("GET", "HEAD")), style)
    assert (answer.status, answer.reason) == (405, "method_not_allowed")
    assert answer.headers == ((b"allow", b"GET, HEAD"),)
    body = orjson.loads(answer.body)
    if style is ErrorStyle.PLAIN:
        assert body == {"error": "PUT is not allowed"}
    else:
        expected = {"code": 405, "status": "METHOD_NOT_ALLOWED", "message": "PUT is not allowed"}
        assert body == {"error": expected}


UNEXPECTED = [
    RuntimeError("secret internal detail"),
    KeyError("secret internal detail"),
    ValueError("secret internal detail"),
    DigitrunError("secret internal detail"),
    ArtifactError("secret internal detail"),
    ManifestError("secret internal detail"),
    StorageError("secret internal detail"),
]


@pytest.mark.parametrize("style", list(ErrorStyle))
@pytest.mark.parametrize("exc", UNEXPECTED, ids=[type(e).__name__ for e in UNEXPECTED])
def test_anything_else_is_a_500_without_detail(exc, style):
    answer = error_response(exc, style)
    assert (answer.status, answer.reason, answer.headers) == (500, "internal", ())
    assert b"secret" not in answer.body
    body = orjson.loads(answer.body)
    if style is ErrorStyle.PLAIN:
        assert body == {"error": INTERNAL_MESSAGE}
    else:
        assert body == {"error": {"code": 500, "status": "INTERNAL", "message": INTERNAL_MESSAGE}}


class ExplodingModel:
    """A Predictor that fails inside predict, as a broken interpreter would."""

    version = VERSION
    spec = SPEC

    def predict(self, images):
        raise RuntimeError("secret interpreter failure")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged():
    """The digitrun logger's records during one test (whether or not it propagates)."""
    handler = Records()
    logs.log.addHandler(handler)
    yield handler.records
    logs.log.removeHandler(handler)


@pytest.mark.parametrize(
    ("path", "body", "nested"),
    [
        ("/predict", b'{"image": [%s]}' % b",".join([b"0"] * 784), True),
        ("/v1/models/mnist:predict", b'{"instances": [[%s]]}' % b",".join([b"0"] * 784), False),
        ("/v2/models/mnist/infer", binary_request(np.zeros((1, 784), np.float32))[0], False),
    ],
    ids=["predict", "tfserving", "v2"],
)
def test_a_model_failure_is_a_json_500_and_a_logged_traceback(settings, logged, path, body, nested):
    ctx = Context.create(ExplodingModel(), settings)
    app = App(ctx, Router(routing_table(ctx, SERVER_VERSION), VERSION))
    headers = {"Content-Type": "application/json"}
    if path.startswith("/v2"):
        headers = binary_request(np.zeros((1, 784), np.float32))[1]
    answer = call(app, "POST", path, body, headers)
    assert answer.status == 500
    assert answer.headers["x-model-version"] == VERSION
    assert b"secret" not in answer.body
    error = answer.json()["error"]
    assert (error["message"] if nested else error) == INTERNAL_MESSAGE
    (record,) = [r for r in logged if r.levelno >= logging.ERROR]
    assert record.getMessage() == f"POST {path} failed with 500: secret interpreter failure"
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_a_handler_bug_on_any_route_is_a_500(client, logged):
    async def broken(request):
        raise ZeroDivisionError("secret")

    client.app.router.exact["/broken"] = Route(
        "/broken", "broken", ErrorStyle.PLAIN, {"GET": broken}
    )
    answer = client.get("/broken")
    assert answer.status == 500
    assert answer.json() == {"error": INTERNAL_MESSAGE}
    errors = [r.getMessage() for r in logged if r.levelno >= logging.ERROR]
    assert errors == ["GET /broken failed with 500: secret"]


def test_client_errors_are_not_logged_as_errors(client, logged):
    client.post("/predict", b"{", {"Content-Type": "application/json"})
    client.get("/nowhere")
    client.post("/predict", chunks=[], disconnect=True)
    assert [r for r in logged if r.levelno >= logging.WARNING] == []
