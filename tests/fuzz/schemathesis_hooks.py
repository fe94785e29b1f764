"""What JSON Schema cannot say about digitrun's requests, taught to Schemathesis.

Loaded by the Schemathesis CLI (``hooks`` in the configuration) in the fuzz run of
``test_openapi_fuzz.py``. The OpenAPI document says everything JSON Schema can; the rest
is in its descriptions, and here, so that a schema-valid request Schemathesis builds is one
the service must accept (the positive_data_acceptance check):

* a picture (``image/png``, ``image/jpeg``, the multipart part, TF Serving's ``b64``) is a
  PNG or JPEG that decodes and is not blank: generated here as one, with ink on a light or
  dark background;
* a V2 binary request (``application/octet-stream``) is a JSON header followed by the
  tensor bytes it announces, its length in ``Inference-Header-Content-Length``: built here
  by the one builder (:func:`client.v2.binary_request`);
* a V2 JSON tensor's ``shape`` is [N, 784] or [N, 28, 28] with N x 784 values in ``data``:
  a positive case's shape is made to count its data;
* a ``prediction_id`` is one the service issued: positive feedback cases carry a real one
  (``FUZZ_PREDICTION_ID``), so feedback is tested past the id check.

Negative cases (schema-violating) are left exactly as generated.
"""

from __future__ import annotations

import base64
import io
import json
import os
from typing import Any

import numpy as np
import schemathesis
from hypothesis import strategies as st
from PIL import Image

from client.v2 import HEADER_LENGTH, binary_request
from function.contract.spec import SPEC

INPUT = SPEC.input
LAYOUTS = ((INPUT.features,), INPUT.image_shape)
OUTPUTS = (SPEC.output.name, "prediction")
PREDICTION_ID = os.environ.get("FUZZ_PREDICTION_ID", "")
V2_INFER = "/infer"
MAX_BINARY_IMAGES = 4


@st.composite
def pictures(draw: st.DrawFn, fmt: str) -> bytes:
    """A PNG or JPEG of a few strokes: ink at least 160 gray levels from the background
    (the service refuses a picture whose ink is within 24 levels of it: blank)."""
    height, width = draw(st.integers(8, 64)), draw(st.integers(8, 64))
    background, ink = draw(st.integers(0, 40)), draw(st.integers(200, 255))
    canvas = np.full((height, width), background, np.uint8)
    for _ in range(draw(st.integers(1, 3))):  # strokes inside a one-pixel margin
        top = draw(st.integers(1, height - 3))
        left = draw(st.integers(1, width - 3))
        bottom = draw(st.integers(top + 2, height - 1))
        right = draw(st.integers(left + 2, width - 1))
        canvas[top:bottom, left:right] = ink
    if draw(st.booleans()):  # dark ink on paper, as a photo is
        canvas = 255 - canvas
    mode = draw(st.sampled_from(("L", "RGB", "RGBA") if fmt == "PNG" else ("L", "RGB")))
    buffer = io.BytesIO()
    options = {"quality": draw(st.integers(50, 95))} if fmt == "JPEG" else {}
    Image.fromarray(canvas).convert(mode).save(buffer, fmt, **options)
    return buffer.getvalue()


any_picture = st.one_of(pictures("PNG"), pictures("JPEG"))


@st.composite
def v2_binary_bodies(draw: st.DrawFn) -> bytes:
    """A V2 inference request with its input as binary tensor data after the header."""
    count = draw(st.integers(1, MAX_BINARY_IMAGES))
    layout = draw(st.sampled_from(LAYOUTS))
    raw = draw(st.binary(min_size=count * INPUT.features, max_size=count * INPUT.features))
    images = np.frombuffer(raw, np.uint8).reshape(count, *layout)
    datatype = draw(st.sampled_from(("FP32", "UINT8")))
    if datatype == "FP32":
        images = INPUT.scale(images).reshape(images.shape)
    output = st.fixed_dictionaries(
        {"name": st.sampled_from(OUTPUTS)},
        optional={"parameters": st.fixed_dictionaries({}, optional={"binary_data": st.booleans()})},
    )
    outputs = draw(st.none() | st.lists(output, min_size=1, max_size=2))
    extra = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "id": st.text(max_size=20),
                "parameters": st.fixed_dictionaries(
                    {}, optional={"binary_data_output": st.booleans()}
                ),
            },
        )
    )
    body, _ = binary_request(images, datatype, outputs, **extra)
    return body


schemathesis.openapi.media_type("image/png", pictures("PNG"))
schemathesis.openapi.media_type("image/jpeg", pictures("JPEG"))
schemathesis.openapi.media_type("application/octet-stream", v2_binary_bodies())
schemathesis.openapi.format("byte", any_picture.map(lambda data: base64.b64encode(data).decode()))


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    """A positive case made to meet what its schema cannot say (see the module's text)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    path = case.operation.path
    if path.endswith(V2_INFER):
        if case.media_type == "application/octet-stream" and isinstance(case.body, bytes):
            case.headers[HEADER_LENGTH] = str(_header_length(case.body))
        elif isinstance(case.body, dict):
            _count_v2_data(case.body)
    elif path == "/feedback" and isinstance(case.body, dict) and PREDICTION_ID:
        case.body["prediction_id"] = PREDICTION_ID
    return case


def _header_length(body: bytes) -> int:
    """Where the JSON header of a body built by :func:`v2_binary_bodies` ends."""
    _, end = json.JSONDecoder().raw_decode(body.decode("latin-1"))  # the header is ASCII
    return end


def _count_v2_data(body: dict[str, Any]) -> None:
    """Make the input tensor's shape [N, 784] or [N, 28, 28] for the N images its data
    holds (flat data is cut to whole images)."""
    tensor = body["inputs"][0]
    data = tensor["data"]
    if isinstance(data[0], list):  # nested by image
        count = len(data)
    else:
        count = len(data) // INPUT.features
        tensor["data"] = data[: count * INPUT.features]
    layout = list(LAYOUTS[len(tensor["shape"]) == 3])
    tensor["shape"] = [count, *layout]
