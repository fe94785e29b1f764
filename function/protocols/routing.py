"""The routing table: every path the service answers, bound to its protocol's handler,
with its methods, its fixed label (logs, metrics) and its error style. The OpenAPI document
is derived from it (on its first request: :mod:`function.protocols.openapi_endpoint`)."""

from __future__ import annotations

from function.protocols.feedback import FeedbackApi, FeedbackHook
from function.protocols.openapi_endpoint import DocsApi
from function.protocols.page import PageApi
from function.protocols.predict import PredictApi
from function.protocols.prediction_ids import PredictionIds
from function.protocols.tfserving import TfServingApi
from function.protocols.v2 import V2Api
from function.web import paths
from function.web.context import Context
from function.web.errors import ErrorStyle
from function.web.routes import Handler, Route

PLAIN = ErrorStyle.PLAIN
NESTED = ErrorStyle.NESTED


def routing_table(
    ctx: Context,
    server_version: str,
    metrics_endpoint: Handler | None = None,
    *,
    on_feedback: FeedbackHook | None = None,
    ids: PredictionIds | None = None,
) -> tuple[Route, ...]:
    """Every route of the service, bound to its handlers (``/metrics`` when the metrics
    are served on the main port); the OpenAPI document is derived from this table.

    Built once at start-up, in the gunicorn master: the page's files are read and the
    prediction ids' secret is made here (unless ``ids`` is given), before the fork.
    ``on_feedback(predicted, actual)`` is told about every accepted feedback.
    """
    ids = ids or PredictionIds.from_settings(ctx.settings, ctx.model.version)
    predict = PredictApi(ctx, ids)
    feedback = FeedbackApi(ctx, ids, on_feedback)
    page = PageApi(ctx)
    tf = TfServingApi(ctx)
    v2 = V2Api(ctx, server_version)
    docs = DocsApi(ctx, server_version)
    v1, model, versioned = paths.V1_MODEL, paths.V2_MODEL, paths.V2_VERSIONED
    metrics = (
        (Route(paths.METRICS, "metrics", NESTED, {"GET": metrics_endpoint}),)
        if metrics_endpoint is not None
        else ()
    )
    routes = (
        *metrics,
        # path                        name                  errors  method: handler
        Route(paths.PAGE,             "page",               NESTED, {"GET": page.page}),
        Route(paths.STATIC,           "static",             NESTED, {"GET": page.static}),
        Route(paths.PREDICT,          "predict",            NESTED, {"POST": predict.predict}),
        Route(paths.FEEDBACK,         "feedback",           NESTED, {"POST": feedback.feedback}),
        Route(paths.OPENAPI,          "openapi",            NESTED, {"GET": docs.openapi}),
        Route(f"{v1}:predict",        "tfserving_predict",  PLAIN,  {"POST": tf.predict}),
        Route(v1,                     "tfserving_status",   PLAIN,  {"GET": tf.status}),
        Route(f"{v1}/metadata",       "tfserving_metadata", PLAIN,  {"GET": tf.metadata}),
        Route(paths.V2,               "v2_server",          PLAIN,  {"GET": v2.server_metadata}),
        Route(paths.V2_LIVE,          "v2_live",            PLAIN,  {"GET": v2.live}),
        Route(paths.V2_READY,         "v2_ready",           PLAIN,  {"GET": v2.ready}),
        Route(model,                  "v2_model",           PLAIN,  {"GET": v2.model_metadata}),
        Route(f"{model}/ready",       "v2_model_ready",     PLAIN,  {"GET": v2.model_ready}),
        Route(f"{model}/infer",       "v2_infer",           PLAIN,  {"POST": v2.infer}),
        Route(versioned,              "v2_model",           PLAIN,  {"GET": v2.model_metadata}),
        Route(f"{versioned}/ready",   "v2_model_ready",     PLAIN,  {"GET": v2.model_ready}),
        Route(f"{versioned}/infer",   "v2_infer",           PLAIN,  {"POST": v2.infer}),
    )  # fmt: skip
    docs.describe(routes, page.assets)
    return routes
