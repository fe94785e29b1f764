"""The URL paths the service answers, written once: the routing table, the 404 messages,
the protocols' bodies and the OpenAPI document all take them from here."""

from __future__ import annotations

# The name clients use for the model in every protocol's paths (/v1/models/mnist, ...).
MODEL_ROUTE_NAME = "mnist"
VERSION = "{version}"  # stands for the served model version in a path
NAME = "{name}"  # at the end of a path: any rest of the path (a prefix route)
VERSIONS = "versions/"  # V2: /v2/models/<name>/versions/<version>/...

# The prefixes of the TF Serving and V2 protocols (their errors are plain) and of their
# model paths (a miss there names the unknown model or version).
V1_PREFIX = "/v1/"
V2_PREFIX = "/v2/"
V1_MODELS = "/v1/models/"
V2_MODELS = "/v2/models/"

PAGE = "/"
STATIC_PREFIX = "/static/"
STATIC = f"{STATIC_PREFIX}{NAME}"
PREDICT = "/predict"
FEEDBACK = "/feedback"
OPENAPI = "/openapi.json"
METRICS = "/metrics"
V1_MODEL = f"{V1_MODELS}{MODEL_ROUTE_NAME}"
V2 = "/v2"
V2_LIVE = f"{V2_PREFIX}health/live"
V2_READY = f"{V2_PREFIX}health/ready"
V2_MODEL = f"{V2_MODELS}{MODEL_ROUTE_NAME}"
V2_VERSIONED = f"{V2_MODEL}/{VERSIONS}{VERSION}"
