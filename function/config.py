"""The serving function's settings, read once from environment variables at start-up.

Every variable is listed in the README's configuration table. The server's own variables
(``PORT``, ``WORKERS``, ``CLOUD_RUN_TIMEOUT_SECONDS``...) are read by functions-framework
and gunicorn (``WORKERS`` and ``PORT`` are read here too, to choose the metrics mode and to
check ``METRICS_PORT``); ``STORAGE_TIMEOUT_SECONDS``, ``STORAGE_RETRIES`` and
``STORAGE_EMULATOR_HOST`` by :mod:`function.contract.storage`, which the training job shares.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from function.errors import DigitrunError

MAX_DRIFT_WINDOW = 1_000_000
MIN_FEEDBACK_SECRET = 16  # characters
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class ConfigError(DigitrunError):
    """An environment variable is missing or holds an invalid value."""


@dataclass(frozen=True)
class Settings:
    """What the service reads from its environment."""

    model_uri: str
    max_body_bytes: int = 4 * 1024 * 1024
    max_batch: int = 1024
    log_level: str = "INFO"
    log_requests: bool = False
    slow_request_seconds: float = 1.0
    project: str = ""
    workers: int = 1
    metrics: bool = True
    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"
    drift_window: int = 1000
    # Signs prediction ids; empty: a random secret per start (one instance only).
    feedback_secret: str = field(default="", repr=False)
    feedback_ttl_seconds: int = 3600
    # Connections and the work one request may cause (issue 20: slow clients, heavy images).
    header_timeout_seconds: float = 5.0
    body_timeout_seconds: float = 5.0
    max_connections: int = 512
    max_headers: int = 100
    max_header_bytes: int = 16 * 1024
    max_request_pixels: int = 2048 * 2048
    decode_threads: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (default ``os.environ``); ConfigError names a bad variable."""
        env = os.environ if env is None else env
        model_uri = env.get("MODEL_URI", "").strip()
        if not model_uri:
            raise ConfigError("MODEL_URI is not set: name one published model version")
        level = env.get("LOG_LEVEL", cls.log_level).strip().upper() or cls.log_level
        if level not in _LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL={level!r} is not one of {', '.join(_LOG_LEVELS)}")
        settings = cls(
            model_uri=model_uri,
            max_body_bytes=_int(env, "MAX_BODY_BYTES", cls.max_body_bytes),
            max_batch=_int(env, "MAX_BATCH", cls.max_batch),
            log_level=level,
            log_requests=_bool(env, "LOG_REQUESTS", cls.log_requests),
            slow_request_seconds=_float(env, "SLOW_REQUEST_SECONDS", cls.slow_request_seconds),
            project=env.get("GOOGLE_CLOUD_PROJECT", "").strip(),
            workers=_int(env, "WORKERS", cls.workers),
            metrics=_bool(env, "METRICS", cls.metrics),
            metrics_port=_int(env, "METRICS_PORT", 0) or None,
            metrics_host=env.get("METRICS_HOST", "").strip() or cls.metrics_host,
            drift_window=_int(env, "DRIFT_WINDOW", cls.drift_window),
            feedback_secret=env.get("FEEDBACK_SECRET", "").strip(),
            feedback_ttl_seconds=_int(env, "FEEDBACK_TTL_SECONDS", cls.feedback_ttl_seconds),
            header_timeout_seconds=_float(
                env, "HEADER_TIMEOUT_SECONDS", cls.header_timeout_seconds
            ),
            body_timeout_seconds=_float(env, "BODY_TIMEOUT_SECONDS", cls.body_timeout_seconds),
            max_connections=_int(env, "MAX_CONNECTIONS", cls.max_connections),
            max_headers=_int(env, "MAX_HEADERS", cls.max_headers),
            max_header_bytes=_int(env, "MAX_HEADER_BYTES", cls.max_header_bytes),
            max_request_pixels=_int(env, "MAX_REQUEST_PIXELS", cls.max_request_pixels),
            decode_threads=_int(env, "DECODE_THREADS", cls.decode_threads),
        )
        if settings.drift_window > MAX_DRIFT_WINDOW:
            raise ConfigError(f"DRIFT_WINDOW={settings.drift_window} is over {MAX_DRIFT_WINDOW}")
        if 0 < len(settings.feedback_secret) < MIN_FEEDBACK_SECRET:
            raise ConfigError(
                f"FEEDBACK_SECRET is shorter than {MIN_FEEDBACK_SECRET} characters: "
                "use a long random value (e.g. `openssl rand -hex 32`)"
            )
        port = env.get("PORT", "8080").strip()
        if settings.metrics_port is not None and str(settings.metrics_port) == port:
            raise ConfigError(f"METRICS_PORT={port} is the serving port: pick another one")
        return settings


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < 1:
        raise ConfigError(f"{name}={raw!r} must be at least 1")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not value > 0:
        raise ConfigError(f"{name}={raw!r} must be a positive number")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (true or false)")
