"""What every route handler works with: the model, the settings, the responder."""

from __future__ import annotations

from dataclasses import dataclass

from function.config import Settings
from function.runtime.predictor import Predictor
from function.web.responses import Responder


@dataclass(frozen=True)
class Context:
    model: Predictor
    settings: Settings
    respond: Responder

    @classmethod
    def create(cls, model: Predictor, settings: Settings) -> Context:
        return cls(model, settings, Responder(model.version))
