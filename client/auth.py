"""A Google ID token for a private Cloud Run service (``google-auth``).

``--id-token`` says when to send one:

* ``auto`` (default): for an ``https://`` URL, fetch a token from the environment (a
  service-account key file in ``GOOGLE_APPLICATION_CREDENTIALS`` or the metadata server of
  Compute Engine / Cloud Run / Cloud Build); when none can be had, send the requests without
  one (a public service needs none). Plain ``http://`` gets no token: it would travel in
  clear text.
* ``always``: a token is required; failing to get one is an error (exit 2).
* ``never``: no token.

``--token`` (``DIGITRUN_TOKEN``) sends a token obtained elsewhere (``gcloud auth
print-identity-token``, or the ``id_token`` output of google-github-actions/auth, since
fetching from Workload Identity Federation credentials is not supported by google-auth).
The audience defaults to the URL's scheme and host (``--audience`` for a custom one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import google.auth.exceptions
import google.auth.transport.requests
import google.oauth2.id_token

from client.errors import AuthError, UsageError

MODES = ("auto", "always", "never")
Fetcher = Callable[[str], str]  # audience → ID token


@dataclass(frozen=True)
class Credentials:
    """The headers to send and what was done to get them (named in a 401/403 message)."""

    headers: dict[str, str] = field(default_factory=dict)
    note: str = "no ID token sent"

    @property
    def sent(self) -> bool:
        return "Authorization" in self.headers


def fetch_from_environment(audience: str) -> str:
    """An ID token for ``audience`` from the environment's Google credentials."""
    request = google.auth.transport.requests.Request()
    return google.oauth2.id_token.fetch_id_token(request, audience)


def default_audience(url: str) -> str:
    """Cloud Run's audience for ``url``: its scheme and host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def credentials(
    mode: str,
    url: str,
    audience: str | None = None,
    token: str | None = None,
    fetch: Fetcher = fetch_from_environment,
) -> Credentials:
    """The Authorization header for ``url`` under ``mode`` (see the module docstring)."""
    if mode not in MODES:
        raise UsageError(f"--id-token {mode!r} is not one of {', '.join(MODES)}")
    if token:
        if mode == "never":
            raise UsageError("--token and --id-token never contradict each other: drop one")
        return Credentials(_bearer(token), "the ID token given by --token was sent")
    if mode == "never":
        return Credentials(note="no ID token sent (--id-token never)")
    if mode == "auto" and urlsplit(url).scheme != "https":
        return Credentials(note="no ID token sent (auto: not an https URL)")
    audience = audience or default_audience(url)
    try:
        fetched = fetch(audience)
    except (google.auth.exceptions.GoogleAuthError, OSError, ValueError) as exc:
        reason = _one_line(exc)
        if mode == "always":
            raise AuthError(f"cannot get a Google ID token for {audience}: {reason}") from None
        return Credentials(note=f"no ID token sent (auto: none available: {reason})")
    return Credentials(_bearer(fetched), f"an ID token for audience {audience} was sent")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.strip()}"}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
