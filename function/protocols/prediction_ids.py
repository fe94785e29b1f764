"""Prediction ids: stateless signed tokens that name one prediction for ``POST /feedback``.

An id is the base64url text (36 characters, no padding) of 27 bytes:

* one format byte, ``0x10 | predicted digit``;
* the unix time it was issued, in seconds (uint32, big-endian);
* a 6-byte random nonce (two ids of the same digit in the same second still differ);
* the first 16 bytes of HMAC-SHA256 over those 11 bytes.

Nothing is stored: any worker verifies any id from the id alone. The HMAC key is derived
from the secret and the served model version, so an id only counts as feedback on the
model that made it. The secret is ``FEEDBACK_SECRET`` (instances that share it accept each
other's ids) or, unset, a random one made at start-up in the gunicorn master before the
workers fork (every worker of this instance shares it; a restart forgets it). An id
expires ``FEEDBACK_TTL_SECONDS`` after it was issued.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
import secrets
import struct
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from function.config import Settings
from function.contract.spec import SPEC
from function.errors import RequestError
from function.web.errors import NotFoundError

FORMAT = 0x10  # the high nibble of the first byte: this layout
NONCE_BYTES = 6
TAG_BYTES = 16
_PAYLOAD = struct.Struct(">BI6s")
ID_BYTES = _PAYLOAD.size + TAG_BYTES  # 27: a multiple of 3, so no base64 padding
ID_CHARS = ID_BYTES // 3 * 4  # 36
_KEY_LABEL = b"digitrun prediction id\x00"
_TO_URL = bytes.maketrans(b"+/", b"-_")
_FROM_URL = bytes.maketrans(b"-_", b"+/")


class NoncePool:
    """Random nonces from ``os.urandom`` drawn ``chunk`` bytes at a time: one system call
    per ~680 ids instead of one per id. A forked worker starts with an empty pool, so no
    two workers hand out the same bytes."""

    def __init__(self, chunk: int = 4096) -> None:
        self._chunk = chunk
        self._pool = b""
        self._at = 0
        pool = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (kept := pool()) and kept.empty())

    def __call__(self, size: int) -> bytes:
        start = self._at
        end = start + size
        if end > len(self._pool):
            self._pool = os.urandom(max(self._chunk, size))
            start, end = 0, size
        self._at = end
        return self._pool[start:end]

    def empty(self) -> None:
        self._pool = b""
        self._at = 0


class PredictionNotFoundError(NotFoundError):
    """A prediction id this service did not issue (altered, another model, another secret)."""

    reason = "prediction_not_found"


class PredictionExpiredError(RequestError):
    """A genuine prediction id, older than FEEDBACK_TTL_SECONDS."""

    status = 410
    reason = "prediction_expired"


@dataclass(frozen=True)
class Issued:
    """What a verified id says: the predicted digit, and its age in seconds."""

    predicted: int
    age_seconds: int


class PredictionIds:
    """Issues and verifies prediction ids under one key (see the module's docstring)."""

    def __init__(
        self,
        secret: bytes,
        model_version: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[int], bytes] | None = None,
    ) -> None:
        key = hmac.digest(secret, _KEY_LABEL + model_version.encode(), "sha256")
        self._mac = hmac.new(key, digestmod=hashlib.sha256)  # copied per id: no key setup
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.nonce = nonce or NoncePool()

    @classmethod
    def from_settings(cls, settings: Settings, model_version: str) -> PredictionIds:
        """Ids under FEEDBACK_SECRET, else under a random secret made now (at start-up)."""
        secret = settings.feedback_secret.encode() or secrets.token_bytes(32)
        return cls(secret, model_version, settings.feedback_ttl_seconds)

    def issue(self, digit: int) -> str:
        """The id of a prediction of ``digit`` made now (~2 µs)."""
        payload = _PAYLOAD.pack(FORMAT | digit, int(self.clock()), self.nonce(NONCE_BYTES))
        mac = self._mac.copy()
        mac.update(payload)
        raw = payload + mac.digest()[:TAG_BYTES]
        return binascii.b2a_base64(raw, newline=False).translate(_TO_URL).decode()

    def verify(self, prediction_id: str) -> Issued:
        """The prediction ``prediction_id`` names; PredictionNotFoundError unless this
        service issued it, PredictionExpiredError once it is older than the TTL."""
        raw = _decode(prediction_id)
        payload, tag = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        mac = self._mac.copy()
        mac.update(payload)
        head, issued_at, _ = _PAYLOAD.unpack(payload)
        digit = head & 0x0F
        if (
            not hmac.compare_digest(mac.digest()[:TAG_BYTES], tag)
            or head & 0xF0 != FORMAT
            or digit >= SPEC.output.classes
        ):
            raise _not_found(prediction_id)
        age = max(0, int(self.clock()) - issued_at)  # another instance's clock may run ahead
        if age > self.ttl_seconds:
            raise PredictionExpiredError(
                f"prediction id {prediction_id!r} expired: it was issued {age} s ago and "
                f"feedback is taken for {self.ttl_seconds} s"
            )
        return Issued(digit, age)


def _decode(prediction_id: str) -> bytes:
    """The id's bytes; PredictionNotFoundError unless it is exactly an id's canonical text."""
    if len(prediction_id) != ID_CHARS or not prediction_id.isascii():
        raise _not_found(prediction_id)
    text = prediction_id.encode()
    try:
        raw = binascii.a2b_base64(text.translate(_FROM_URL), strict_mode=True)
    except binascii.Error:
        raise _not_found(prediction_id) from None
    if binascii.b2a_base64(raw, newline=False).translate(_TO_URL) != text:
        raise _not_found(prediction_id)
    return raw


def _not_found(prediction_id: str) -> PredictionNotFoundError:
    shown = prediction_id if len(prediction_id) <= ID_CHARS else f"{prediction_id[:ID_CHARS]}..."
    return PredictionNotFoundError(
        f"prediction id {shown!r} is unknown: it was not issued by this service for the "
        "model it serves (or it was altered, or issued before a restart)"
    )
