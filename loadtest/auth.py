"""A Google ID token for a private Cloud Run service, in every Locust process.

The rules are the client's (``client/auth.py``, reused): ``LOADTEST_ID_TOKEN`` = ``auto``
(default: an ``https://`` host gets a token from the environment's Google credentials when
there are any), ``always`` (no token is an error) or ``never``; ``LOADTEST_TOKEN`` (else
``DIGITRUN_TOKEN``) sends a token obtained elsewhere; ``LOADTEST_AUDIENCE`` overrides the
audience (the host). A fetched token is fetched again after 45 minutes (they last an hour),
so a soak test outlives it. Each worker fetches its own: on other machines, their own
credentials.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

REFRESH_SECONDS = 45 * 60


def settings(env: Mapping[str, str] | None = None) -> dict[str, str | None]:
    env = os.environ if env is None else env
    return {
        "mode": env.get("LOADTEST_ID_TOKEN") or "auto",
        "token": env.get("LOADTEST_TOKEN") or env.get("DIGITRUN_TOKEN") or None,
        "audience": env.get("LOADTEST_AUDIENCE") or None,
    }


class TokenSource:
    """The ``Authorization`` header for one host (empty when no token is sent)."""

    def __init__(self, host: str, env: Mapping[str, str] | None = None) -> None:
        self._host = host
        self._settings = settings(env)
        self._headers: dict[str, str] = {}
        self._fetched_at = 0.0
        self.note = ""
        self.refresh()

    def refresh(self) -> None:
        """Get the header again (``client.errors.UsageError`` when it cannot be had)."""
        from client.auth import credentials  # noqa: PLC0415 (google-auth, only when used)

        got = credentials(
            self._settings["mode"], self._host, self._settings["audience"], self._settings["token"]
        )
        self._headers, self.note = dict(got.headers), got.note
        self._fetched_at = time.monotonic()

    def headers(self) -> dict[str, str]:
        """The header, fetched again when a fetched token nears its end."""
        stale = time.monotonic() - self._fetched_at > REFRESH_SECONDS
        if self._headers and stale and not self._settings["token"]:
            self.refresh()
        return self._headers
