"""Routes and the router: a path's handlers by method, its label and its error style.

functions-framework sends every path to the one function; the function looks the path up
in a dict (no pattern matching on the hot path). The V2 model routes also exist under
``/versions/{version}``, expanded to the served version. A route whose path ends in
``{name}`` (``/static/{name}``) is a prefix route: it serves every path under its prefix
and is tried only after the dict missed. Any other version, model name or path gets a 404
in the style of the protocol its prefix belongs to. The table itself, which binds each
path to its protocol's handler, is :mod:`function.protocols.routing`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from function.web import paths
from function.web.errors import ErrorStyle, ModelNotFoundError, NotFoundError, clip
from function.web.paths import MODEL_ROUTE_NAME, NAME, VERSION, VERSIONS

Handler = Callable[[Request], Awaitable[Response]]
PLAIN = ErrorStyle.PLAIN
NESTED = ErrorStyle.NESTED


@dataclass(frozen=True)
class Route:
    path: str  # "{version}": the served model version; a trailing "{name}": any rest
    name: str  # a fixed label for logs (and metrics): never the raw path
    style: ErrorStyle
    handlers: dict[str, Handler] = field(compare=False)

    @property
    def allow(self) -> tuple[str, ...]:
        return tuple(self.handlers)


class Router:
    """Exact paths → routes, then prefix routes; a miss is explained by :meth:`not_found`."""

    def __init__(self, routes: tuple[Route, ...], version: str) -> None:
        self.version = version
        self.exact: dict[str, Route] = {}
        self.prefixes: dict[str, Route] = {}  # "/static/" → the route of every path under it
        for route in routes:
            handlers = dict(route.handlers)
            if "GET" in handlers:
                handlers["HEAD"] = handlers["GET"]  # the server drops a HEAD answer's body
            path = route.path.replace(VERSION, version)
            served = Route(path, route.name, route.style, handlers)
            if path.endswith(NAME):
                self.prefixes[path[: -len(NAME)]] = served
            else:
                self.exact[path] = served
        self._missing = {style: Route("", "unknown", style, {}) for style in ErrorStyle}

    def route(self, path: str) -> Route:
        """The route that answers ``path``: its exact one, else :meth:`fallback`'s."""
        return self.exact.get(path) or self.fallback(path)

    def fallback(self, path: str) -> Route:
        """For a path not in the exact table: the prefix route it falls under, else its
        route without the trailing slash, else the catch-all of the path's protocol (no
        handlers: :meth:`not_found` explains)."""
        for prefix, route in self.prefixes.items():
            if path.startswith(prefix):
                return route
        if len(path) > 1 and path.endswith("/"):
            alias = self.exact.get(path.rstrip("/"))
            if alias is not None:
                return alias
        plain = path.startswith((paths.V1_PREFIX, paths.V2_PREFIX))
        return self._missing[PLAIN if plain else NESTED]

    def not_found(self, path: str) -> NotFoundError:
        """The 404 for a path no route serves, naming an unknown model or version."""
        if path.startswith(paths.V2_MODELS):
            name, _, rest = path[len(paths.V2_MODELS) :].partition("/")
            if name != MODEL_ROUTE_NAME:
                return ModelNotFoundError(f"Request for unknown model: {clip(name)} is not found")
            if rest.startswith(VERSIONS):
                version = rest[len(VERSIONS) :].partition("/")[0]
                if version != self.version:
                    return ModelNotFoundError(
                        f"model {MODEL_ROUTE_NAME!r} has no version {clip(version)} "
                        f"(this service serves {self.version!r})"
                    )
        elif path.startswith(paths.V1_MODELS):
            name = path[len(paths.V1_MODELS) :].partition("/")[0].partition(":")[0]
            if name != MODEL_ROUTE_NAME:
                return ModelNotFoundError(f"Servable not found for request: {clip(name)}")
        return NotFoundError(f"no route {clip(path)}: see {paths.OPENAPI}")
