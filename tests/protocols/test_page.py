"""``GET /`` and ``GET /static/<name>`` in-process: the files of function/static/ served
from memory with the CSP, nosniff, ETag and no-cache headers, 304 on a matching
``If-None-Match``, a nested 404 for an unknown file, and the fixed route labels."""

from __future__ import annotations

import hashlib
import re

import pytest

from function.protocols import page as page_module
from function.protocols.page import STATIC_DIR, PageApi, load_assets, matches
from function.protocols.routing import routing_table
from function.web.app import App
from function.web.errors import ErrorStyle
from function.web.routes import Route, Router
from tests.protocols.conftest import SERVER_VERSION, call
from tests.protocols.fake import VERSION
from tests.protocols.test_routing import Recorder

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
FILES = sorted(p.name for p in STATIC_DIR.iterdir() if p.is_file() and p.name[0] != ".")
TYPES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml; charset=utf-8",
}


def etag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


def check_file(answer, body: bytes, content_type: str) -> None:
    assert answer.status == 200, answer.body
    assert answer.body == body
    assert answer.headers == {
        "content-type": content_type,
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "etag": etag(body),
        "cache-control": "no-cache",
        "x-model-version": VERSION,
        "content-length": str(len(body)),
    }


@pytest.fixture
def recorded(ctx):
    recorder = Recorder()
    return App(ctx, Router(routing_table(ctx, SERVER_VERSION), VERSION), recorder), recorder


def test_the_static_folder_holds_the_page_and_its_assets():
    assert {"index.html", "app.js", "app.css"} <= set(FILES)


def test_the_page_is_index_html(client):
    body = (STATIC_DIR / "index.html").read_bytes()
    check_file(client.get("/"), body, TYPES["index.html"])
    check_file(client.get("/static/index.html"), body, TYPES["index.html"])


@pytest.mark.parametrize("name", FILES)
def test_every_asset_is_served_with_its_type_and_headers(client, name):
    body = (STATIC_DIR / name).read_bytes()
    expected = TYPES.get(name) or page_module.CONTENT_TYPES[f".{name.rpartition('.')[2]}"]
    check_file(client.get(f"/static/{name}"), body, expected)


@pytest.mark.parametrize("path", ["/", "/static/app.js"])
def test_a_current_etag_gets_304_without_a_body(client, path):
    first = client.get(path)
    tag = first.headers["etag"]
    for condition in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = client.get(path, headers={"If-None-Match": condition})
        assert again.status == 304, condition
        assert again.body == b""
        assert "content-length" not in again.headers
        assert "content-type" not in again.headers
        assert again.headers["etag"] == tag
        assert again.headers["cache-control"] == "no-cache"
        assert again.headers["content-security-policy"] == CSP
        assert again.headers["x-content-type-options"] == "nosniff"
        assert again.headers["x-model-version"] == VERSION
    stale = client.get(path, headers={"If-None-Match": '"0123", W/"abc"'})
    assert stale.status == 200 and stale.body == first.body


@pytest.mark.parametrize("path", ["/", "/static/app.css"])
def test_head_answers_like_get(client, path):
    get, head = client.get(path), client.request("HEAD", path)
    assert head.status == get.status == 200
    assert head.headers == get.headers


@pytest.mark.parametrize(
    "path",
    [
        "/static/nothing.js",
        "/static/",
        "/static/app.js/",
        "/static/APP.JS",
        "/static/../config.py",
        "/static/..%2fconfig.py",
        "/static/.hidden",
        "/static/sub/app.js",
    ],
)
def test_an_unknown_asset_is_a_nested_404_labelled_static(recorded, path):
    app, recorder = recorded
    answer = call(app, "GET", path)
    assert answer.status == 404
    assert answer.headers["x-model-version"] == VERSION
    error = answer.json()["error"]
    assert error["code"] == 404 and error["status"] == "NOT_FOUND"
    assert f"no static file {path[len('/static/') :]!r} here" in error["message"]
    assert recorder.requests == [("static", "GET", 404)]
    assert recorder.errors == [("static", "not_found")]


def test_route_labels_are_page_and_static_never_the_path(recorded):
    app, recorder = recorded
    call(app, "GET", "/")
    call(app, "GET", "/static/app.js")
    tag = call(app, "GET", "/static/app.css").headers["etag"]
    call(app, "GET", "/static/app.css", headers={"If-None-Match": tag})
    call(app, "HEAD", "/")
    assert recorder.requests == [
        ("page", "GET", 200),
        ("static", "GET", 200),
        ("static", "GET", 200),
        ("static", "GET", 304),
        ("page", "HEAD", 200),
    ]
    assert recorder.errors == []


def page_app(ctx, directory) -> App:
    """An App serving only the page routes, from ``directory``."""
    api = PageApi(ctx, directory)
    routes = (
        Route("/", "page", ErrorStyle.NESTED, {"GET": api.page}),
        Route("/static/{name}", "static", ErrorStyle.NESTED, {"GET": api.static}),
    )
    return App(ctx, Router(routes, VERSION))


def test_files_are_read_once_at_start_up(ctx, tmp_path, monkeypatch):
    (tmp_path / "index.html").write_text("<p>one</p>")
    (tmp_path / "a.js").write_text("1")
    app = page_app(ctx, tmp_path)
    (tmp_path / "index.html").write_text("<p>two</p>")
    (tmp_path / "late.js").write_text("2")

    def no_disk(*args, **kwargs):
        raise AssertionError("a request read the disk")

    monkeypatch.setattr(page_module.Path, "read_bytes", no_disk)
    monkeypatch.setattr(page_module.Path, "iterdir", no_disk)
    assert call(app, "GET", "/").body == b"<p>one</p>"
    assert call(app, "GET", "/static/a.js").body == b"1"
    assert call(app, "GET", "/static/late.js").status == 404


def test_load_assets_takes_plain_visible_files_only(tmp_path):
    (tmp_path / "page.html").write_bytes(b"<p>")
    (tmp_path / "data.bin").write_bytes(b"\x00")
    (tmp_path / ".secret").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.js").write_bytes(b"x")
    assets = load_assets(tmp_path)
    assert set(assets) == {"page.html", "data.bin"}
    assert dict(assets["data.bin"].headers)[b"content-type"] == b"application/octet-stream"
    assert load_assets(tmp_path / "missing") == {}


def test_without_an_index_the_page_is_a_404(ctx, tmp_path):
    answer = call(page_app(ctx, tmp_path), "GET", "/")
    assert answer.status == 404
    assert answer.json()["error"]["message"] == (
        "the page is not installed here: see /openapi.json"
    )


def test_matches():
    assert matches('"a"', '"a"')
    assert matches('W/"a"', '"a"')
    assert matches(' "b" , "a" ', '"a"')
    assert matches("*", '"a"')
    assert not matches('"b"', '"a"')
    assert not matches("a", '"a"')
    assert not matches("", '"a"')


def test_the_page_obeys_its_own_csp():
    """The served CSP blocks inline scripts, inline styles and other origins: the page
    must not need them (its URLs are relative, so it works behind any prefix)."""
    html = (STATIC_DIR / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    assert not re.search(r"\sstyle=", html), "an inline style attribute"
    assert "<style" not in html
    assert not re.search(r"\son[a-z]+=", html), "an inline event handler"
    urls = re.findall(r'(?:src|href|action)="([^"]*)"', html)
    assert urls and all(not re.match(r"^(/|[a-z]+:)", url) for url in urls), urls


def test_the_openapi_document_names_every_served_type(client):
    doc = client.get("/openapi.json").json()
    page = doc["paths"]["/"]["get"]["responses"]
    assert set(page) == {"200", "304", "405"}
    assert "text/html" in page["200"]["content"]
    static = doc["paths"]["/static/{name}"]
    assert static["parameters"][0]["name"] == "name"
    documented = static["get"]["responses"]["200"]["content"]
    for name in FILES:
        media = client.get(f"/static/{name}").headers["content-type"].partition(";")[0]
        assert media in documented, name
    assert "304" in static["get"]["responses"] and "404" in static["get"]["responses"]
