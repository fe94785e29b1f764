"""The service's App around a :class:`~tests.protocols.fake.FakeModel`, called in-process.

A request is an ASGI scope and a ``receive`` coroutine handed to :meth:`App.handle`, as
functions-framework's server passes them: no server, no sockets, no model file. A body may
arrive as several ``http.request`` messages (chunked) or end with ``http.disconnect``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from starlette.requests import Request

from function.config import Settings
from function.protocols.prediction_ids import PredictionIds
from function.protocols.routing import routing_table
from function.web.app import App
from function.web.context import Context
from function.web.routes import Router
from tests.protocols.fake import VERSION, FakeModel

MAX_BATCH = 8
LIMIT = 256 * 1024  # MAX_BODY_BYTES: a batch of 8 JSON images fits, a 9th too
SERVER_VERSION = "9.9.9-test"
FEEDBACK_SECRET = "in-process tests' secret"  # FEEDBACK_SECRET: ids can be checked here


@dataclass(frozen=True)
class Answer:
    """What App.handle answered, and how much of the body it asked for."""

    status: int
    headers: dict[str, str]  # lower-case names; a repeated header would be a bug
    body: bytes
    received: int  # receive() calls the service made

    def json(self) -> Any:
        assert self.headers["content-type"] == "application/json", self.headers
        return orjson.loads(self.body)


def call(
    app: App,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    chunks: list[bytes] | None = None,
    disconnect: bool = False,
) -> Answer:
    """One request through App.handle. ``body`` is sent in one message with its
    Content-Length (unless ``headers`` set one); ``chunks`` are sent as a chunked upload,
    and ``disconnect`` makes the client vanish after the last chunk."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if chunks is None:
        chunks = [body]
        if body or method in ("POST", "PUT"):
            headers.setdefault("content-length", str(len(body)))
    else:
        headers.setdefault("transfer-encoding", "chunked")
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": disconnect or i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    if disconnect:
        messages.append({"type": "http.disconnect"})
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    response = asyncio.run(app.handle(Request(scope, receive)))
    raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
    names = [k for k, _ in raw]
    assert len(names) == len(set(names)), f"repeated headers: {raw}"
    return Answer(response.status_code, dict(raw), bytes(response.body), received)


class Client:
    """``call`` bound to one App, with shorthands."""

    def __init__(self, app: App, model: FakeModel) -> None:
        self.app = app
        self.model = model

    def get(self, path: str, **kwargs: Any) -> Answer:
        return call(self.app, "GET", path, **kwargs)

    def post(self, path: str, body: bytes = b"", headers: dict | None = None, **kw: Any) -> Answer:
        return call(self.app, "POST", path, body, headers, **kw)

    def post_json(self, path: str, payload: Any, content_type: str = "application/json") -> Answer:
        return self.post(path, orjson.dumps(payload), {"Content-Type": content_type})

    def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        return call(self.app, method, path, **kwargs)


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


def verifier(ttl_seconds: int = 3600) -> PredictionIds:
    """Ids under the tests' FEEDBACK_SECRET for the fake's version: checks the app's ids."""
    return PredictionIds(FEEDBACK_SECRET.encode(), VERSION, ttl_seconds)


@pytest.fixture
def settings() -> Settings:
    return Settings(
        model_uri="unused",
        max_batch=MAX_BATCH,
        max_body_bytes=LIMIT,
        metrics=False,
        feedback_secret=FEEDBACK_SECRET,
    )


@pytest.fixture
def ctx(model: FakeModel, settings: Settings) -> Context:
    return Context.create(model, settings)


@pytest.fixture
def ids(ctx: Context) -> PredictionIds:
    """The app's prediction ids (its ``clock`` and ``nonce`` may be replaced by a test)."""
    return PredictionIds.from_settings(ctx.settings, ctx.model.version)


@pytest.fixture
def frozen_ids(ids: PredictionIds) -> PredictionIds:
    """The app's ids made reproducible: a fixed time and an all-zero nonce."""
    ids.clock = lambda: 1_767_225_600.0
    ids.nonce = lambda size: b"\0" * size
    return ids


@pytest.fixture
def app(ctx: Context, ids: PredictionIds) -> App:
    return App(ctx, Router(routing_table(ctx, SERVER_VERSION, ids=ids), ctx.model.version))


@pytest.fixture
def client(app: App, model: FakeModel) -> Client:
    return Client(app, model)
