"""Digits through the selected protocols: plain functions the CLI and the tests call.

:func:`send` posts a batch through one protocol, as many requests as the protocol needs,
and returns every exchange (answer, latency, model version); :func:`accuracy` and
:func:`under_floor` judge the answers against the labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import requests

from client.auth import Credentials
from client.errors import BadAnswerError, UsageError
from client.protocols import ALL, PNG_SENDERS, SENDERS, Inputs, Prediction, Sender
from client.transport import post


@dataclass(frozen=True)
class Endpoint:
    """Where and how to send: the base URL, the model name, the deadline, the credentials."""

    url: str
    model: str
    timeout: float
    auth: Credentials
    http: requests.Session


@dataclass(frozen=True)
class Exchange:
    """One request: the index of its first image in the batch, the answer, the latency."""

    first: int
    prediction: Prediction
    seconds: float
    model_version: str


@dataclass(frozen=True)
class Result:
    """A batch through one protocol."""

    sender: Sender
    exchanges: list[Exchange]

    @property
    def digits(self) -> np.ndarray:
        return np.concatenate([e.prediction.digits for e in self.exchanges])

    @property
    def confidences(self) -> np.ndarray:
        return np.concatenate([e.prediction.confidences for e in self.exchanges])

    @property
    def latencies(self) -> list[float]:
        return [e.seconds for e in self.exchanges]

    @property
    def model_versions(self) -> list[str]:
        return sorted({e.model_version for e in self.exchanges})


def select_senders(names: str, png_file: bool = False) -> list[Sender]:
    """The senders named by ``--protocol`` (``all`` or a comma-separated list); for a PNG
    file, only the protocols that take images (``all`` means those)."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    if not wanted or ALL in wanted:
        wanted = list(PNG_SENDERS if png_file else SENDERS)
    unknown = [name for name in wanted if name not in SENDERS]
    if unknown:
        choices = ", ".join([*SENDERS, ALL])
        raise UsageError(f"--protocol {','.join(unknown)} is unknown: choose from {choices}")
    pixels_only = [name for name in wanted if png_file and not SENDERS[name].takes_png]
    if pixels_only:
        verb = "takes" if len(pixels_only) == 1 else "take"
        raise UsageError(
            f"--png sends an image file but {', '.join(pixels_only)} {verb} pixels: "
            f"choose {', '.join(PNG_SENDERS)} or {ALL}"
        )
    return [SENDERS[name] for name in dict.fromkeys(wanted)]


def send(endpoint: Endpoint, sender: Sender, inputs: Inputs) -> Result:
    """``inputs`` (pixels, or PNG files for a sender that takes them) through ``sender``, in
    requests of at most ``sender.per_request`` images."""
    exchanges = []
    for first in range(0, len(inputs), sender.per_request):
        chunk = inputs[first : first + sender.per_request]
        request = sender.build(chunk, endpoint.model)
        url = f"{endpoint.url}{request.path}"
        answer = post(
            endpoint.http, url, request.body, request.headers, endpoint.timeout, endpoint.auth
        )
        try:
            prediction = sender.read(answer.body, answer.headers)
        except (ValueError, KeyError, TypeError, IndexError, json.JSONDecodeError):
            raise BadAnswerError(
                f"the answer from POST {url} is not a digitrun answer: is --url this service?"
            ) from None
        if len(prediction.digits) != len(chunk):
            raise BadAnswerError(
                f"POST {url} answered {len(prediction.digits)} predictions for {len(chunk)} images"
            )
        exchanges.append(Exchange(first, prediction, answer.seconds, answer.model_version))
    return Result(sender, exchanges)


def accuracy(result: Result, labels: np.ndarray) -> float:
    """The share of answers equal to their label."""
    return float(np.mean(result.digits == labels))


def under_floor(results: list[Result], labels: np.ndarray, floor: float) -> list[Result]:
    """The results whose accuracy is under ``floor``."""
    return [result for result in results if accuracy(result, labels) < floor]
