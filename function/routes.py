"""The routing table: every path the service answers, its methods, and its error style.

functions-framework sends every path to the one function; the function looks the path up
in a dict (no pattern matching on the hot path). The V2 model routes also exist under
``/versions/{version}``, expanded to the served version; any other version, model name or
path gets a 404 in the style of the protocol its prefix belongs to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from function.config import MODEL_ROUTE_NAME
from function.context import Context
from function.http_errors import ErrorStyle, ModelNotFoundError, NotFoundError
from function.openapi import DocsApi
from function.predict import PredictApi
from function.tfserving import TfServingApi
from function.v2 import V2Api

Handler = Callable[[Request], Awaitable[Response]]
PLAIN = ErrorStyle.PLAIN
NESTED = ErrorStyle.NESTED
VERSION = "{version}"


@dataclass(frozen=True)
class Route:
    path: str  # "{version}" stands for the served model version
    name: str  # a fixed label for logs (and metrics): never the raw path
    style: ErrorStyle
    handlers: dict[str, Handler] = field(compare=False)

    @property
    def allow(self) -> tuple[str, ...]:
        return tuple(self.handlers)


def routing_table(
    ctx: Context, server_version: str, metrics_endpoint: Handler | None = None
) -> tuple[Route, ...]:
    """Every route of the service, bound to its handlers (``/metrics`` when the metrics
    are served on the main port)."""
    predict = PredictApi(ctx)
    tf = TfServingApi(ctx)
    v2 = V2Api(ctx, server_version)
    docs = DocsApi(ctx, server_version, metrics=metrics_endpoint is not None)
    v1 = f"/v1/models/{MODEL_ROUTE_NAME}"
    model = f"/v2/models/{MODEL_ROUTE_NAME}"
    versioned = f"{model}/versions/{VERSION}"
    metrics = (
        (Route("/metrics", "metrics", NESTED, {"GET": metrics_endpoint}),)
        if metrics_endpoint is not None
        else ()
    )
    return (
        *metrics,
        # path                        name                  errors  method: handler
        Route("/predict",             "predict",            NESTED, {"POST": predict.predict}),
        Route("/openapi.json",        "openapi",            NESTED, {"GET": docs.openapi}),
        Route(f"{v1}:predict",        "tfserving_predict",  PLAIN,  {"POST": tf.predict}),
        Route(v1,                     "tfserving_status",   PLAIN,  {"GET": tf.status}),
        Route(f"{v1}/metadata",       "tfserving_metadata", PLAIN,  {"GET": tf.metadata}),
        Route("/v2",                  "v2_server",          PLAIN,  {"GET": v2.server_metadata}),
        Route("/v2/health/live",      "v2_live",            PLAIN,  {"GET": v2.live}),
        Route("/v2/health/ready",     "v2_ready",           PLAIN,  {"GET": v2.ready}),
        Route(model,                  "v2_model",           PLAIN,  {"GET": v2.model_metadata}),
        Route(f"{model}/ready",       "v2_model_ready",     PLAIN,  {"GET": v2.model_ready}),
        Route(f"{model}/infer",       "v2_infer",           PLAIN,  {"POST": v2.infer}),
        Route(versioned,              "v2_model",           PLAIN,  {"GET": v2.model_metadata}),
        Route(f"{versioned}/ready",   "v2_model_ready",     PLAIN,  {"GET": v2.model_ready}),
        Route(f"{versioned}/infer",   "v2_infer",           PLAIN,  {"POST": v2.infer}),
    )  # fmt: skip


class Router:
    """Exact paths → routes; a miss is explained by :meth:`unknown`."""

    def __init__(self, routes: tuple[Route, ...], version: str) -> None:
        self.version = version
        self.exact: dict[str, Route] = {}
        for route in routes:
            handlers = dict(route.handlers)
            if "GET" in handlers:
                handlers["HEAD"] = handlers["GET"]  # the server drops a HEAD answer's body
            path = route.path.replace(VERSION, version)
            self.exact[path] = Route(path, route.name, route.style, handlers)
        self._missing = {style: Route("", "unknown", style, {}) for style in ErrorStyle}

    def fallback(self, path: str) -> Route:
        """For a path not in the table: its route without the trailing slash, else the
        catch-all of the path's protocol (no handlers: :meth:`not_found` explains)."""
        if len(path) > 1 and path.endswith("/"):
            alias = self.exact.get(path.rstrip("/"))
            if alias is not None:
                return alias
        return self._missing[PLAIN if path.startswith(("/v1/", "/v2/")) else NESTED]

    def not_found(self, path: str) -> NotFoundError:
        """The 404 for a path no route serves, naming an unknown model or version."""
        prefix = "/v2/models/"
        if path.startswith(prefix):
            name, _, rest = path[len(prefix) :].partition("/")
            if name != MODEL_ROUTE_NAME:
                return ModelNotFoundError(f"Request for unknown model: {name!r} is not found")
            if rest.startswith("versions/"):
                version = rest[len("versions/") :].partition("/")[0]
                if version != self.version:
                    return ModelNotFoundError(
                        f"model {MODEL_ROUTE_NAME!r} has no version {version!r} "
                        f"(this service serves {self.version!r})"
                    )
        elif path.startswith("/v1/models/"):
            name = path[len("/v1/models/") :].partition("/")[0].partition(":")[0]
            if name != MODEL_ROUTE_NAME:
                return ModelNotFoundError(f"Servable not found for request: {name!r}")
        return NotFoundError(f"no route {path!r}: see /openapi.json")
