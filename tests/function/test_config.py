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


def test_feedback_settings_keep_the_secret_out_of_sight():
    settings = Settings.from_env(
        {
            "MODEL_URI": "x",
            "FEEDBACK_SECRET": " a-long-enough-secret ",
            "FEEDBACK_TTL_SECONDS": "60",
        }
    )
    assert (settings.feedback_secret, settings.feedback_ttl_seconds) == ("a-long-enough-secret", 60)
    assert "a-long-enough-secret" not in repr(settings)
    defaults = Settings.from_env({"MODEL_URI": "x"})
    assert (defaults.feedback_secret, defaults.feedback_ttl_seconds) == ("", 3600)
    for env, fragment in (
        ({"FEEDBACK_SECRET": "short"}, "FEEDBACK_SECRET is shorter than 16 characters"),
        ({"FEEDBACK_TTL_SECONDS": "0"}, "FEEDBACK_TTL_SECONDS='0' must be at least 1"),
        ({"FEEDBACK_TTL_SECONDS": "1h"}, "FEEDBACK_TTL_SECONDS='1h' is not an integer"),
    ):
        with pytest.raises(ConfigError, match=fragment) as caught:
            Settings.from_env({"MODEL_URI": "x", **env})
        assert "short" not in str(caught.value).replace("shorter", "")


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
