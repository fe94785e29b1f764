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

from function.protocols.openapi import DocsApi
from function.protocols.predict import PredictApi
from function.protocols.tfserving import TfServingApi
from function.protocols.v2 import V2Api
from function.web import paths
from function.web.context import Context
from function.web.errors import ErrorStyle, ModelNotFoundError, NotFoundError
from function.web.paths import MODEL_ROUTE_NAME, VERSION

Handler = Callable[[Request], Awaitable[Response]]
PLAIN = ErrorStyle.PLAIN
NESTED = ErrorStyle.NESTED


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
    are served on the main port); the OpenAPI document is derived from this table."""
    predict = PredictApi(ctx)
    tf = TfServingApi(ctx)
    v2 = V2Api(ctx, server_version)
    docs = DocsApi(ctx, server_version)
    v1, model, versioned = paths.V1_MODEL, paths.V2_MODEL, paths.V2_VERSIONED
    metrics = (
        (Route(paths.METRICS, "metrics", NESTED, {"GET": metrics_endpoint}),)
        if metrics_endpoint is not None
        else ()
    )
    routes = (
        *metrics,
        # path                        name                  errors  method: handler
        Route(paths.PREDICT,          "predict",            NESTED, {"POST": predict.predict}),
        Route(paths.OPENAPI,          "openapi",            NESTED, {"GET": docs.openapi}),
        Route(f"{v1}:predict",        "tfserving_predict",  PLAIN,  {"POST": tf.predict}),
        Route(v1,                     "tfserving_status",   PLAIN,  {"GET": tf.status}),
        Route(f"{v1}/metadata",       "tfserving_metadata", PLAIN,  {"GET": tf.metadata}),
        Route(paths.V2,               "v2_server",          PLAIN,  {"GET": v2.server_metadata}),
        Route(paths.V2_LIVE,          "v2_live",            PLAIN,  {"GET": v2.live}),
        Route(paths.V2_READY,         "v2_ready",           PLAIN,  {"GET": v2.ready}),
        Route(model,                  "v2_model",           PLAIN,  {"GET": v2.model_metadata}),
        Route(f"{model}/ready",       "v2_model_ready",     PLAIN,  {"GET": v2.model_ready}),
        Route(f"{model}/infer",       "v2_infer",           PLAIN,  {"POST": v2.infer}),
        Route(versioned,              "v2_model",           PLAIN,  {"GET": v2.model_metadata}),
        Route(f"{versioned}/ready",   "v2_model_ready",     PLAIN,  {"GET": v2.model_ready}),
        Route(f"{versioned}/infer",   "v2_infer",           PLAIN,  {"POST": v2.infer}),
    )  # fmt: skip
    docs.describe([(route.path, route.name, tuple(route.handlers)) for route in routes])
    return routes


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
