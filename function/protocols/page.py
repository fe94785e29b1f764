"""``GET /``: the draw-a-digit page, and ``GET /static/<name>``: its assets.

The files of ``function/static/`` are read once, when the routing table is built at
start-up, and answered from memory: no file system access on a request, so no path can
reach anything else. Every answer carries a Content-Security-Policy that allows only the
service itself (scripts and styles live in files, never inline), ``nosniff``, and an
``ETag`` (sha256 of the content) with ``Cache-Control: no-cache``: the browser revalidates
each time and a matching ``If-None-Match`` gets a 304 without a body.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from function.web import paths
from function.web.context import Context
from function.web.errors import NotFoundError
from function.web.responses import Header

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
INDEX = "index.html"
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
TEXT = "; charset=utf-8"
CONTENT_TYPES = {
    ".html": f"text/html{TEXT}",
    ".js": f"text/javascript{TEXT}",
    ".mjs": f"text/javascript{TEXT}",
    ".css": f"text/css{TEXT}",
    ".svg": f"image/svg+xml{TEXT}",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": f"text/plain{TEXT}",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
OTHER = "application/octet-stream"


@dataclass(frozen=True)
class Asset:
    """One file, ready to answer: its bytes, ETag, and the headers of a 200 and a 304."""

    body: bytes
    etag: str
    headers: tuple[Header, ...]
    not_modified: tuple[Header, ...]


def load_assets(directory: Path = STATIC_DIR) -> dict[str, Asset]:
    """Every regular file directly in ``directory`` (hidden ones left out), by name."""
    if not directory.is_dir():
        return {}
    return {
        path.name: asset(path.read_bytes(), path.suffix.lower())
        for path in sorted(directory.iterdir())
        if path.is_file() and not path.name.startswith(".")
    }


def asset(body: bytes, suffix: str) -> Asset:
    """A file's answer: ``suffix`` (``.js``) chooses its Content-Type."""
    etag = f'"{hashlib.sha256(body).hexdigest()}"'
    common = (
        (b"content-security-policy", CSP.encode()),
        (b"etag", etag.encode()),
        (b"cache-control", b"no-cache"),
    )
    content_type = CONTENT_TYPES.get(suffix, OTHER).encode()
    return Asset(body, etag, ((b"content-type", content_type), *common), common)


def matches(if_none_match: str, etag: str) -> bool:
    """``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks for GET)."""
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


class PageApi:
    """``GET /`` (``index.html``) and ``GET /static/<name>``, from memory."""

    def __init__(self, ctx: Context, directory: Path = STATIC_DIR) -> None:
        self._respond = ctx.respond
        self.assets = load_assets(directory)

    async def page(self, request: Request) -> Response:
        return self._answer(request, INDEX)

    async def static(self, request: Request) -> Response:
        return self._answer(request, request.scope["path"][len(paths.STATIC_PREFIX) :])

    def _answer(self, request: Request, name: str) -> Response:
        found = self.assets.get(name)
        if found is None:
            what = "the page is not installed" if name == INDEX else f"no static file {name!r}"
            raise NotFoundError(f"{what} here: see {paths.OPENAPI}")
        condition = request.headers.get("if-none-match")
        if condition is not None and matches(condition, found.etag):
            return self._respond.not_modified(found.not_modified)
        return self._respond.file(found.body, found.headers)
