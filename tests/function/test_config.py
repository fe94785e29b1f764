"""The function's settings and log fields, in-process: no model, no server."""

from __future__ import annotations

import pytest

from function.config import ConfigError, Settings
from function.observability import logs


def test_settings_defaults_and_errors():
    settings = Settings.from_env({"MODEL_URI": "gs://b/v"})
    assert settings.max_body_bytes == 4 * 1024 * 1024
    assert settings.max_batch == 1024
    assert settings.log_requests is False
    assert settings.log_level == "INFO"
    full = Settings.from_env(
        {
            "MODEL_URI": "/m",
            "MAX_BODY_BYTES": "100",
            "MAX_BATCH": "8",
            "LOG_LEVEL": "debug",
            "LOG_REQUESTS": "TRUE",
            "SLOW_REQUEST_SECONDS": "0.25",
            "GOOGLE_CLOUD_PROJECT": "p",
        }
    )
    assert (full.max_body_bytes, full.max_batch, full.log_level) == (100, 8, "DEBUG")
    assert (full.log_requests, full.slow_request_seconds, full.project) == (True, 0.25, "p")
    assert settings.metrics_host == "0.0.0.0"
    assert Settings.from_env({"MODEL_URI": "x", "METRICS_HOST": " 127.0.0.1 "}).metrics_host == (
        "127.0.0.1"
    )
    for env in (
        {},
        {"MODEL_URI": "x", "LOG_LEVEL": "LOUD"},
        {"MODEL_URI": "x", "SLOW_REQUEST_SECONDS": "-1"},
        {"MODEL_URI": "x", "SLOW_REQUEST_SECONDS": "nan"},
    ):
        with pytest.raises(ConfigError):
            Settings.from_env(env)


@pytest.mark.parametrize(
    ("headers", "project", "expected"),
    [
        ({}, "p", {}),
        ({"x-cloud-trace-context": "t1"}, "", {logs.TRACE_FIELD: "t1"}),
        (
            {"x-cloud-trace-context": "t1/22;o=1"},
            "p",
            {
                logs.TRACE_FIELD: "projects/p/traces/t1",
                logs.SPAN_FIELD: "22",
                logs.SAMPLED_FIELD: True,
            },
        ),
        (
            {"traceparent": "00-abc-def-00"},
            "",
            {logs.TRACE_FIELD: "abc", logs.SPAN_FIELD: "def", logs.SAMPLED_FIELD: False},
        ),
        ({"traceparent": "garbage"}, "p", {}),
    ],
)
def test_trace_fields(headers, project, expected):
    assert logs.trace_fields(headers, project) == expected
