"""``GET /openapi.json``: the OpenAPI document of the routing table, built on first request.

No other route needs the document or its schemas (:mod:`function.protocols.openapi` and
the modules it draws on): they are imported and the document built when it is first asked
for, in the process that answers, not at start-up. The routing table hands its routes over
once (:meth:`DocsApi.describe`); the body is then built once and answered from memory.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from function.web.context import Context
from function.web.routes import Route


class DocsApi:
    """``GET /openapi.json``: the document of the routes :meth:`describe` was given."""

    def __init__(self, ctx: Context, server_version: str) -> None:
        self._respond = ctx.respond
        self._server_version = server_version
        self._model_version = ctx.model.version
        self._spec = ctx.model.spec
        self._max_batch = ctx.settings.max_batch
        self._routes: tuple[Route, ...] = ()
        self._page_files: tuple[str, ...] = ()
        self._body: bytes | None = None

    def describe(self, routes: Iterable[Route], page_files: Iterable[str]) -> None:
        """The routes the document describes and the files the page serves (the routing
        table calls this once)."""
        self._routes = tuple(routes)
        self._page_files = tuple(page_files)
        self._body = None

    def body(self) -> bytes:
        """The document as JSON bytes, built on the first call."""
        if self._body is None:
            from function.protocols.openapi import document  # noqa: PLC0415 (first use)

            doc = document(
                self._routes,
                self._server_version,
                self._model_version,
                self._spec,
                self._max_batch,
                self._page_files,
            )
            self._body = orjson.dumps(doc)
        return self._body

    async def openapi(self, request: Request) -> Response:
        return self._respond.json(self.body())
