"""A few real MNIST test digits through each protocol the function speaks, printed as
prediction vs label. Used by ``make run``; plain urllib so it runs against any endpoint.

    python -m scripts.demo_requests http://127.0.0.1:8080 [--count 3]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import urllib.request
from collections.abc import Callable

import numpy as np
from PIL import Image

from client.v2 import binary_request, read_outputs
from function.contract.spec import PREDICTION_OUTPUT, SPEC

Digit = tuple[np.ndarray, int]  # uint8 28x28, label


def post(
    url: str,
    body: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> tuple[dict[str, str], bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(response.headers), response.read()


def png(image: np.ndarray) -> bytes:
    """The digit as a PNG, dark ink on white paper, 4x larger: what a user would upload."""
    buffer = io.BytesIO()
    Image.fromarray(255 - image).resize((112, 112), Image.Resampling.BILINEAR).save(buffer, "PNG")
    return buffer.getvalue()


def via_predict_json(base: str, image: np.ndarray) -> int:
    _, body = post(
        f"{base}/predict",
        json.dumps({"image": SPEC.input.scale(image).ravel().tolist()}).encode(),
        "application/json",
    )
    return json.loads(body)["prediction"]


def via_predict_png(base: str, image: np.ndarray) -> int:
    _, body = post(f"{base}/predict", png(image), "image/png")
    return json.loads(body)["prediction"]


def via_tfserving(base: str, image: np.ndarray) -> int:
    payload = {"instances": [{"b64": base64.b64encode(png(image)).decode()}]}
    _, body = post(
        f"{base}/v1/models/mnist:predict", json.dumps(payload).encode(), "application/json"
    )
    return int(np.argmax(json.loads(body)["predictions"][0]))


def via_v2_json(base: str, image: np.ndarray) -> int:
    payload = {
        "inputs": [
            {
                "name": SPEC.input.name,
                "shape": [1, *SPEC.input.image_shape],
                "datatype": "UINT8",
                "data": image.ravel().tolist(),
            }
        ],
        "outputs": [{"name": PREDICTION_OUTPUT}],
    }
    _, body = post(
        f"{base}/v2/models/mnist/infer", json.dumps(payload).encode(), "application/json"
    )
    return int(json.loads(body)["outputs"][0]["data"][0])


def via_v2_binary(base: str, image: np.ndarray) -> int:
    tensor = SPEC.input.scale(image)
    outputs = [{"name": SPEC.output.name, "parameters": {"binary_data": True}}]
    body, headers = binary_request(tensor, "FP32", outputs)
    content_type = headers.pop("Content-Type")
    answer_headers, answer = post(f"{base}/v2/models/mnist/infer", body, content_type, headers)
    return int(np.argmax(read_outputs(answer, answer_headers)[SPEC.output.name]))


PROTOCOLS: dict[str, Callable[[str, np.ndarray], int]] = {
    "POST /predict (JSON)": via_predict_json,
    "POST /predict (PNG upload)": via_predict_png,
    "TF Serving :predict (b64 PNG)": via_tfserving,
    "V2 infer (JSON, UINT8)": via_v2_json,
    "V2 infer (binary FP32)": via_v2_binary,
}


def test_digits(mnist_path: str | None, count: int) -> list[Digit]:
    if mnist_path:
        with np.load(mnist_path) as data:
            images, labels = data["x_test"], data["y_test"]
    else:
        import keras  # noqa: PLC0415 (only without MNIST_PATH)

        (_, _), (images, labels) = keras.datasets.mnist.load_data()
    picks = np.random.default_rng().choice(len(labels), size=count, replace=False)
    return [(images[i], int(labels[i])) for i in picks]


def show(base: str, digits: list[Digit]) -> int:
    """Send every digit through every protocol; print a table; the number of misses."""
    misses = 0
    print(f"{'protocol':<32} " + " ".join(f"{'label ' + str(label):>9}  " for _, label in digits))
    for name, send in PROTOCOLS.items():
        answers = [send(base, image) for image, _ in digits]
        misses += sum(a != label for a, (_, label) in zip(answers, digits, strict=True))
        cells = " ".join(
            f"{a:>9}{'  ' if a == label else ' ✗'}"
            for a, (_, label) in zip(answers, digits, strict=True)
        )
        print(f"{name:<32} {cells}")
    return misses


def hints(base: str) -> list[str]:
    """What to try next: the page first, then the API."""
    return [
        f"== open {base}/ to draw a digit and see what the model reads",
        f"== API: POST {base}/predict, {base}/openapi.json, metrics at {base}/metrics",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo_requests", description=__doc__)
    parser.add_argument("url", help="base URL of the function, e.g. http://127.0.0.1:8080")
    parser.add_argument("--count", type=int, default=3)
    args = parser.parse_args(argv)
    base = args.url.rstrip("/")
    show(base, test_digits(os.environ.get("MNIST_PATH"), args.count))
    print("\n".join(hints(base)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
