"""The routing table in-process: 404s in the style of the path's protocol (naming an
unknown model or version), 405 with ``Allow``, HEAD on GET routes, the trailing-slash
alias, the versioned V2 routes, and the route names and reasons the recorder is told."""

from __future__ import annotations

import pytest

from function.protocols.routing import routing_table
from function.web.app import App
from function.web.errors import ModelNotFoundError, NotFoundError
from function.web.routes import Router
from tests.protocols.conftest import SERVER_VERSION, call
from tests.protocols.fake import VERSION

GET_ROUTES = [
    "/openapi.json",
    "/v1/models/mnist",
    "/v1/models/mnist/metadata",
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/mnist",
    "/v2/models/mnist/ready",
    f"/v2/models/mnist/versions/{VERSION}",
    f"/v2/models/mnist/versions/{VERSION}/ready",
]
POST_ROUTES = [
    "/predict",
    "/v1/models/mnist:predict",
    "/v2/models/mnist/infer",
    f"/v2/models/mnist/versions/{VERSION}/infer",
]


class Recorder:
    """A RequestRecorder that keeps what it is told."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, int]] = []
        self.errors: list[tuple[str, str]] = []

    def request(self, route: str, method: str, code: int, seconds: float) -> None:
        assert seconds >= 0
        self.requests.append((route, method, code))

    def error(self, route: str, reason: str) -> None:
        self.errors.append((route, reason))


@pytest.fixture
def recorded(ctx):
    """(App with a recorder, the recorder)."""
    recorder = Recorder()
    app = App(ctx, Router(routing_table(ctx, SERVER_VERSION), VERSION), recorder)
    return app, recorder


def check_error(answer, status: int, style: str, fragment: str) -> str:
    assert answer.status == status, answer.body
    assert answer.headers["x-model-version"] == VERSION
    body = answer.json()
    if style == "plain":
        assert set(body) == {"error"} and isinstance(body["error"], str)
        message = body["error"]
    else:
        assert body["error"]["code"] == status
        assert body["error"]["status"] == {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}[status]
        message = body["error"]["message"]
    assert fragment in message, message
    return message


NOT_FOUND = [
    # method, path, style, message, reason
    ("GET", "/nowhere", "nested", "no route '/nowhere': see /openapi.json", "not_found"),
    ("GET", "/index.html", "nested", "no route '/index.html'", "not_found"),
    ("GET", "/static", "nested", "no route '/static'", "not_found"),
    ("GET", "/staticx/app.js", "nested", "no route '/staticx/app.js'", "not_found"),
    ("POST", "/feedback/x", "nested", "no route '/feedback/x'", "not_found"),
    ("GET", "/v1", "nested", "no route '/v1'", "not_found"),
    ("GET", "/predict/x", "nested", "no route '/predict/x'", "not_found"),
    (
        "POST",
        "/v1/models/other:predict",
        "plain",
        "Servable not found for request: 'other'",
        "model_not_found",
    ),
    (
        "GET",
        "/v1/models/other",
        "plain",
        "Servable not found for request: 'other'",
        "model_not_found",
    ),
    ("GET", "/v1/models/mnist/labels", "plain", "no route", "not_found"),
    ("POST", "/v1/models/mnist:classify", "plain", "no route", "not_found"),
    (
        "GET",
        "/v2/models/other",
        "plain",
        "Request for unknown model: 'other' is not found",
        "model_not_found",
    ),
    ("POST", "/v2/models/other/infer", "plain", "unknown model: 'other'", "model_not_found"),
    (
        "GET",
        "/v2/models/mnist/versions/1/ready",
        "plain",
        f"model 'mnist' has no version '1' (this service serves '{VERSION}')",
        "model_not_found",
    ),
    ("POST", "/v2/models/mnist/versions/1/infer", "plain", "no version '1'", "model_not_found"),
    ("GET", "/v2/models/mnist/versions/1", "plain", "no version '1'", "model_not_found"),
    ("GET", f"/v2/models/mnist/versions/{VERSION}/stats", "plain", "no route", "not_found"),
    ("GET", "/v2/models/mnist/stats", "plain", "no route", "not_found"),
    ("GET", "/v2/health/startup", "plain", "no route", "not_found"),
    ("GET", "/v2/repository/index", "plain", "no route", "not_found"),
]


@pytest.mark.parametrize(
    ("method", "path", "style", "fragment", "reason"),
    NOT_FOUND,
    ids=[f"{c[0]} {c[1]}" for c in NOT_FOUND],
)
def test_unknown_paths_are_404(recorded, method, path, style, fragment, reason):
    app, recorder = recorded
    answer = call(app, method, path)
    check_error(answer, 404, style, fragment)
    assert recorder.errors == [("unknown", reason)]
    assert recorder.requests == [("unknown", method, 404)]
    assert answer.received == 0


def test_not_found_names_unknown_models_and_versions(app):
    router = app.router
    assert isinstance(router.not_found("/v2/models/x/infer"), ModelNotFoundError)
    assert isinstance(router.not_found("/v2/models/mnist/versions/2/infer"), ModelNotFoundError)
    assert isinstance(router.not_found("/v1/models/x:predict"), ModelNotFoundError)
    plain = router.not_found(f"/v2/models/mnist/versions/{VERSION}/x")
    assert type(plain) is NotFoundError


WRONG_METHOD = [
    ("GET", "/predict", "nested", "POST"),
    ("PUT", "/openapi.json", "nested", "GET, HEAD"),
    ("GET", "/v1/models/mnist:predict", "plain", "POST"),
    ("POST", "/v1/models/mnist", "plain", "GET, HEAD"),
    ("POST", "/v1/models/mnist/metadata", "plain", "GET, HEAD"),
    ("DELETE", "/v2/health/ready", "plain", "GET, HEAD"),
    ("POST", "/v2", "plain", "GET, HEAD"),
    ("GET", "/v2/models/mnist/infer", "plain", "POST"),
    ("OPTIONS", "/v2/models/mnist/infer", "plain", "POST"),
    ("HEAD", f"/v2/models/mnist/versions/{VERSION}/infer", "plain", "POST"),
    ("PATCH", "/predict/", "nested", "POST"),
    ("POST", "/", "nested", "GET, HEAD"),
    ("POST", "/static/app.js", "nested", "GET, HEAD"),
    ("DELETE", "/static/no-such-file", "nested", "GET, HEAD"),
    ("GET", "/feedback", "nested", "POST"),
    ("PUT", "/feedback/", "nested", "POST"),
]


@pytest.mark.parametrize(("method", "path", "style", "allow"), WRONG_METHOD)
def test_wrong_method_is_405_with_allow(recorded, method, path, style, allow):
    app, recorder = recorded
    answer = call(app, method, path)
    message = check_error(answer, 405, style, f"{method} is not allowed on {path}")
    assert message.endswith(f": use {allow}")
    assert answer.headers["allow"] == allow
    assert recorder.errors == [(recorder.requests[0][0], "method_not_allowed")]
    assert recorder.requests[0][0] != "unknown"
    assert answer.received == 0


@pytest.mark.parametrize("path", GET_ROUTES)
def test_head_answers_like_get(client, path):
    """In-process the body is there; the server drops a HEAD answer's body."""
    get, head = client.get(path), client.request("HEAD", path)
    assert get.status == head.status == 200
    assert head.headers == get.headers
    assert head.body == get.body


@pytest.mark.parametrize("path", GET_ROUTES)
def test_trailing_slash_is_the_same_route(client, path):
    plain, slashed = client.get(path), client.get(f"{path}/")
    assert plain.status == slashed.status == 200
    assert slashed.body == plain.body


@pytest.mark.parametrize("path", POST_ROUTES)
def test_trailing_slash_on_post_routes(client, frozen_ids, path):
    body = b'{"image": [%s]}' % b",".join([b"0"] * 784)
    if not path.startswith("/predict"):
        body = (
            b'{"instances": [[%s]]}' % b",".join([b"0"] * 784)
            if path.startswith("/v1")
            else b'{"inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", '
            b'"data": [%s]}]}' % b",".join([b"0"] * 784)
        )
    plain, slashed = client.post(path, body), client.post(f"{path}/", body)
    assert plain.status == slashed.status == 200, slashed.body
    assert slashed.body == plain.body
    assert len(client.model.calls) == 2


def test_route_names_are_fixed_labels(recorded):
    app, recorder = recorded
    call(app, "GET", "/v2/models/mnist/ready")
    call(app, "GET", f"/v2/models/mnist/versions/{VERSION}/ready/")
    call(app, "GET", "/v2/models/mnist/versions/other/ready")
    call(app, "HEAD", "/v1/models/mnist/metadata")
    assert recorder.requests == [
        ("v2_model_ready", "GET", 200),
        ("v2_model_ready", "GET", 200),
        ("unknown", "GET", 404),
        ("tfserving_metadata", "HEAD", 200),
    ]
    names = {route.name for route in app.router.exact.values()}
    assert names == {
        "page",
        "predict",
        "feedback",
        "openapi",
        "tfserving_predict",
        "tfserving_status",
        "tfserving_metadata",
        "v2_server",
        "v2_live",
        "v2_ready",
        "v2_model",
        "v2_model_ready",
        "v2_infer",
    }
    assert {prefix: route.name for prefix, route in app.router.prefixes.items()} == {
        "/static/": "static"
    }


def test_the_versioned_routes_use_the_served_version(app):
    versioned = sorted(p for p in app.router.exact if "/versions/" in p)
    assert versioned == [
        f"/v2/models/mnist/versions/{VERSION}",
        f"/v2/models/mnist/versions/{VERSION}/infer",
        f"/v2/models/mnist/versions/{VERSION}/ready",
    ]
    assert not any("{" in path for path in app.router.exact)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v2/health/live"), ("GET", "/nowhere"), ("GET", "/predict"), ("POST", "/predict")],
)
def test_every_answer_carries_the_model_version(client, method, path):
    answer = client.request(method, path)
    assert answer.headers["x-model-version"] == VERSION
    assert answer.headers["content-length"] == str(len(answer.body))
