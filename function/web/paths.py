"""The URL paths the service answers, written once: the routing table, the 404 messages,
the protocols' bodies and the OpenAPI document all take them from here."""

from __future__ import annotations

# The name clients use for the model in every protocol's paths (/v1/models/mnist, ...).
MODEL_ROUTE_NAME = "mnist"
VERSION = "{version}"  # stands for the served model version in a path

PREDICT = "/predict"
OPENAPI = "/openapi.json"
METRICS = "/metrics"
V1_MODEL = f"/v1/models/{MODEL_ROUTE_NAME}"
V2 = "/v2"
V2_LIVE = "/v2/health/live"
V2_READY = "/v2/health/ready"
V2_MODEL = f"/v2/models/{MODEL_ROUTE_NAME}"
V2_VERSIONED = f"{V2_MODEL}/versions/{VERSION}"
