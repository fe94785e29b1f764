"""``POST /predict``: the original server's API, kept compatible with its clients.

* ``{"image": [784 numbers in 0..1]}`` (or 28x28 nested lists) →
  ``{"prediction": 7, "probabilities": [[10 floats]], "confidence": 0.98,
  "model_version": "...", "prediction_id": "..."}`` — the one-row nesting is the original
  (1, 10) Keras output, which its diagnostic client reads as
  ``result["probabilities"][0][k]``; ``prediction_id`` (also in the ``X-Prediction-Id``
  header) names this prediction for ``POST /feedback`` (the original client ignores it);
* ``{"images": [[784], ...]}`` → ``{"predictions": [...], "probabilities": [[10], ...],
  "model_version": "..."}``;
* a raw ``image/png`` or ``image/jpeg`` body, or a multipart form with the file field
  ``image`` → MNIST-style preprocessing, then the single-image answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import orjson
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response

from function.inputs.decoding import shared_decoder
from function.inputs.errors import InvalidInputError
from function.inputs.fastbodies import off_loop_if_large, predict_fields
from function.inputs.fastjson import flat_images, open_fast, read_document
from function.inputs.tensors import (
    batch_of_images,
    check_batch_size,
    one_image,
    to_array,
    unit_pixels,
)
from function.protocols.prediction_ids import PredictionIds
from function.web.body import is_json, media_type, parse_json, read_body, read_buffer, to_bytes
from function.web.body_headers import body_headers
from function.web.context import Context
from function.web.errors import UnsupportedMediaTypeError, clip

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
IMAGE_TYPES = ("image/png", "image/jpeg", "image/jpg")
MULTIPART = "multipart/form-data"
ACCEPTED = "application/json, image/png, image/jpeg or multipart/form-data"
PREDICTION_ID_HEADER = b"x-prediction-id"


class PredictApi:
    def __init__(self, ctx: Context, ids: PredictionIds) -> None:
        self._ids = ids
        self._model = ctx.model
        self._respond = ctx.respond
        self._limit = ctx.settings.max_body_bytes
        self._max_batch = ctx.settings.max_batch
        self._input = ctx.model.spec.input
        self._decoder = shared_decoder(ctx.settings.decode_threads, ctx.settings.max_request_pixels)

    async def predict(self, request: Request) -> Response:
        content_type = body_headers(request).content_type
        if content_type == "application/json":  # the hot path: no parsing of the header
            return await self._from_body(await read_buffer(request, self._limit))
        media = media_type(request)
        if is_json(media):
            return await self._from_body(await read_buffer(request, self._limit))
        if media in IMAGE_TYPES:  # priced, then decoded off the event loop
            image = await read_body(request, self._limit)
            return self._single(await self._decoder.decode([image]))
        if media == MULTIPART:
            body = await read_body(request, self._limit)
            image = await _multipart_image(request, body)
            return self._single(await self._decoder.decode([image]))
        raise UnsupportedMediaTypeError(
            f"Content-Type {clip(content_type)} is not supported: send {ACCEPTED}"
        )

    async def _from_body(self, body: bytes | np.ndarray) -> Response:
        spec = self._input
        fast, payload = await off_loop_if_large(self._decoder, len(body), self._read, body)
        del body  # read: its buffer (1.5 MB for 256 digits) goes now, not after the answer
        if fast is None:  # other forms: their tensors read fast, or the general path
            return self._from_json(payload)
        pixels, single = fast
        if single:
            return self._single(unit_pixels(pixels, '"image"', spec))
        return self._batch(unit_pixels(pixels, '"images"', spec))

    def _read(self, body: bytes | np.ndarray) -> tuple[tuple[np.ndarray, bool] | None, Any]:
        """(the flat forms' fast path, None), else (None, the payload)."""
        document = open_fast(body)  # one parse for the flat forms and the others
        if document is not None:
            fast = flat_images(document, self._max_batch, self._input)
            if fast is not None:
                return fast, None
            payload = read_document(document, predict_fields)
            if payload is not None:
                return None, payload
        return None, parse_json(to_bytes(body))

    def _from_json(self, payload: object) -> Response:
        if not isinstance(payload, dict):
            raise InvalidInputError('expected a JSON object with "image" or "images"')
        spec = self._input
        image = payload.get("image")
        images = payload.get("images")
        if image is not None and images is not None:
            raise InvalidInputError('send either "image" or "images", not both')
        if image is not None:
            what = '"image"'
            return self._single(
                unit_pixels(one_image(to_array(image, what), what, spec), what, spec)
            )
        if images is None:
            raise InvalidInputError('expected a JSON object with "image" or "images"')
        if isinstance(images, list | np.ndarray):
            check_batch_size(len(images), '"images"', self._max_batch)
        what = '"images"'
        array = batch_of_images(to_array(images, what), what, self._max_batch, spec)
        return self._batch(unit_pixels(array, what, spec))

    def _batch(self, pixels: np.ndarray) -> Response:
        probs = self._model.predict(pixels)
        body = {
            "predictions": probs.argmax(axis=1),
            "probabilities": probs,
            "model_version": self._respond.model_version,
        }
        return self._respond.json(orjson.dumps(body, option=_NUMPY))

    def _single(self, pixels: np.ndarray) -> Response:
        probs = self._model.predict(pixels)
        best = int(probs[0].argmax())
        prediction_id = self._ids.issue(best)
        body = {
            "prediction": best,
            "probabilities": probs,
            "confidence": probs[0, best],
            "model_version": self._respond.model_version,
            "prediction_id": prediction_id,
        }
        return self._respond.json(
            orjson.dumps(body, option=_NUMPY),
            extra=((PREDICTION_ID_HEADER, prediction_id.encode()),),
        )


async def _multipart_image(request: Request, body: bytes) -> bytes:
    """The bytes of the multipart form's file field ``image``."""

    async def stream() -> AsyncIterator[bytes]:
        yield body

    parser = MultiPartParser(request.headers, stream(), max_files=1, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidInputError(f"unreadable multipart body: {exc.message}") from None
    try:
        part = form.get("image")
        if part is None:
            raise InvalidInputError('the multipart form has no field "image"')
        if isinstance(part, str):
            raise InvalidInputError('the multipart field "image" must be a file (PNG or JPEG)')
        return part.file.read()
    finally:
        await form.close()
