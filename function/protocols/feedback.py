"""``POST /feedback``: a person says which digit they meant, for a prediction the service made.

``{"prediction_id": "<id from POST /predict>", "actual": 7}`` →
``{"prediction_id": ..., "predicted": 1, "actual": 7, "correct": false}``. The id is a
signed token (:mod:`function.protocols.prediction_ids`), so the predicted digit is the one
the service answered, not one the client claims. Each feedback is counted (the
``digitrun_feedback_total`` counter, from which ``digitrun_production_accuracy`` is
computed) and written as one JSON log line — digits, model version and the prediction's
age only: no image, nothing about the person. Errors: 400 (body, label), 404 (an id this
service did not issue), 410 (an expired id), 413, 415 (a Content-Type other than JSON;
none is read as JSON, as on ``/predict``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from function.inputs.errors import InvalidInputError
from function.observability import logs
from function.protocols.prediction_ids import PredictionIds
from function.web.body import parse_json, read_body, require_json
from function.web.context import Context
from function.web.errors import clip_json

log = logging.getLogger(logs.LOGGER_NAME)

FeedbackHook = Callable[[int, int], None]  # (predicted, actual): the metrics recorder


class FeedbackApi:
    """``POST /feedback``, verifying ids with ``ids`` and telling ``on_feedback``."""

    def __init__(
        self, ctx: Context, ids: PredictionIds, on_feedback: FeedbackHook | None = None
    ) -> None:
        self._respond = ctx.respond
        self._limit = ctx.settings.max_body_bytes
        self._classes = ctx.model.spec.output.classes
        self._ids = ids
        self._on_feedback = on_feedback

    async def feedback(self, request: Request) -> Response:
        require_json(request)
        prediction_id, actual = self._fields(parse_json(await read_body(request, self._limit)))
        issued = self._ids.verify(prediction_id)
        correct = issued.predicted == actual
        if self._on_feedback is not None:
            self._on_feedback(issued.predicted, actual)
        log.info(
            "feedback",
            extra={
                "fields": {
                    "predicted": issued.predicted,
                    "actual": actual,
                    "correct": correct,
                    "model_version": self._respond.model_version,
                    "prediction_age_seconds": issued.age_seconds,
                }
            },
        )
        body = {
            "prediction_id": prediction_id,
            "predicted": issued.predicted,
            "actual": actual,
            "correct": correct,
        }
        return self._respond.json(orjson.dumps(body))

    def _fields(self, payload: Any) -> tuple[str, int]:
        """``prediction_id`` and ``actual`` from the JSON body; 400 when either is wrong."""
        last = self._classes - 1
        expected = f'a JSON object {{"prediction_id": "...", "actual": <digit 0..{last}>}}'
        if not isinstance(payload, dict):
            raise InvalidInputError(f"expected {expected}")
        prediction_id = payload.get("prediction_id")
        if not isinstance(prediction_id, str) or not prediction_id:
            raise InvalidInputError(
                f'"prediction_id" must be the non-empty string a /predict answer gave: '
                f"expected {expected}"
            )
        actual = payload.get("actual")
        if type(actual) is not int or not 0 <= actual <= last:
            raise InvalidInputError(
                f'"actual" must be the digit that was meant, an integer 0..{last}, '
                f"not {clip_json(actual)}"
            )
        return prediction_id, actual
