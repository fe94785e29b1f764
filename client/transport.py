"""One HTTP exchange with the endpoint, timed, every failure turned into one clear line."""

from __future__ import annotations

import json
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from client.auth import Credentials
from client.errors import (
    ConnectionFailedError,
    HttpStatusError,
    RequestTimeoutError,
    UsageError,
)

USER_AGENT = "digitrun-client/0.1"
MODEL_VERSION_HEADER = "X-Model-Version"


@dataclass(frozen=True)
class Answer:
    """A 2xx answer: its body, headers and the seconds from sending to the last byte."""

    body: bytes
    headers: dict[str, str]
    seconds: float

    @property
    def model_version(self) -> str:
        return self.headers.get(MODEL_VERSION_HEADER.lower(), "")


def base_url(url: str) -> str:
    """``url`` checked and without a trailing slash; a UsageError when it is not usable."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as exc:
        raise UsageError(f"invalid --url {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"invalid --url {url!r}: expected http(s)://HOST[:PORT][/PATH], "
            "e.g. https://digitrun-abc123-ew.a.run.app"
        )
    if parts.query or parts.fragment:
        raise UsageError(f"invalid --url {url!r}: give the service's base URL, no ?query or #")
    return text.rstrip("/")


def session(auth: Credentials) -> requests.Session:
    """A session sending ``auth``'s headers; environment proxies are honoured."""
    http = requests.Session()
    http.headers.update({"User-Agent": USER_AGENT, **auth.headers})
    return http


def post(
    http: requests.Session,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    auth: Credentials,
) -> Answer:
    """POST ``body`` to ``url``; the answer when 2xx, else a ClientError saying why."""
    started = time.perf_counter()
    try:
        response = http.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.Timeout:
        raise RequestTimeoutError(
            f"no answer from POST {url} within {timeout:g} s (raise --timeout)"
        ) from None
    except requests.ConnectionError as exc:
        raise ConnectionFailedError(f"cannot reach {url}: {_connection_reason(exc, url)}") from None
    except requests.RequestException as exc:  # invalid header values, unusable URL
        raise UsageError(f"cannot send POST {url}: {exc}") from None
    seconds = time.perf_counter() - started
    if not 200 <= response.status_code < 300:
        raise status_error(url, response, auth)
    lowered = {k.lower(): v for k, v in response.headers.items()}
    return Answer(response.content, lowered, seconds)


def status_error(url: str, response: requests.Response, auth: Credentials) -> HttpStatusError:
    """The one line explaining an error status."""
    status = response.status_code
    said = server_message(response)
    head = f"HTTP {status} from POST {url}"
    if 300 <= status < 400:
        where = response.headers.get("Location", "?")
        text = f"{head}: redirected to {where}: use that URL as --url"
    elif status == 401:
        text = f"{head}: the service wants a Google ID token ({auth.note}); " + (
            "check --audience" if auth.sent else "use --id-token always or --token"
        )
    elif status == 403:
        text = (
            f"{head}: forbidden ({auth.note}); the caller needs roles/run.invoker on the "
            "service, or a token with the right audience (--id-token, --token, --audience)"
        )
    elif status == 404:
        text = f"{head}: not found: check --url (the service's base URL) and --model{said}"
    elif status >= 500:
        text = f"{head}: the service failed{said}"
    else:
        text = f"{head}: the request was refused{said}"
    return HttpStatusError(text, status)


def server_message(response: requests.Response) -> str:
    """``": <the service's error message>"`` from its JSON error body, else ``""``."""
    try:
        error = json.loads(response.content).get("error")
    except (ValueError, AttributeError):
        return ""
    if isinstance(error, dict):
        error = error.get("message")
    if not isinstance(error, str) or not error:
        return ""
    message = " ".join(error.split())
    return f" (service says: {message[:200]})"


def _connection_reason(exc: requests.ConnectionError, url: str) -> str:
    """Refused, unknown host, TLS: the first cause found in the exception chain."""
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (is the service running at --url?)"
        if isinstance(cause, socket.gaierror):
            return f"unknown host {urlsplit(url).hostname!r} (check --url)"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {' '.join(str(cause).split())[:160]}"
    return " ".join(str(exc).split())[:200] or "connection failed"


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps (args, urllib3's ``reason``, causes), in order."""
    found: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if any(current is seen for seen in found):
            continue
        found.append(current)
        wrapped = [*current.args, getattr(current, "reason", None)]
        wrapped += [current.__cause__, current.__context__]
        pending += [item for item in wrapped if isinstance(item, BaseException)]
    return found
