"""What every route handler works with: the served model, the settings, the responder."""

from __future__ import annotations

from dataclasses import dataclass

from function.config import Settings
from function.responses import Responder
from function.service import ServedModel


@dataclass(frozen=True)
class Context:
    model: ServedModel
    settings: Settings
    respond: Responder

    @classmethod
    def create(cls, model: ServedModel, settings: Settings) -> Context:
        return cls(model, settings, Responder(model.version))
