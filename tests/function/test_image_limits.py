"""Images cost more to decode than their bytes suggest: the limits that keep one request
from stalling a worker (pixel count, the shrink before float work, images per request)."""

from __future__ import annotations

import base64
import io

import numpy as np
import requests
from PIL import Image

from function.inputs.images import MAX_ENCODED_IMAGES, MAX_PIXELS, image_to_pixels


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def big_digit(mnist, index: int, side: int) -> np.ndarray:
    """Test digit ``index`` drawn dark on white at side x side pixels (like a scan)."""
    digit = (255 - mnist.x_test[index].reshape(28, 28) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR))


def test_a_large_scan_is_shrunk_and_still_read(mnist):
    small = image_to_pixels(png(big_digit(mnist, 0, 112)))
    large = image_to_pixels(png(big_digit(mnist, 0, 2000)))
    assert large.shape == (784,)
    assert np.abs(large - small).mean() < 0.05


def test_too_many_pixels_is_refused(server):
    side = int(MAX_PIXELS**0.5) + 1
    body = png(np.full((side, side), 255, np.uint8))  # compresses to a few KB
    answer = requests.post(
        f"{server.url}/predict", data=body, headers={"Content-Type": "image/png"}, timeout=10
    )
    assert answer.status_code == 400
    assert "pixels" in answer.json()["error"]["message"]


def test_encoded_images_per_request_are_capped(server, mnist):
    item = {"b64": base64.b64encode(png(big_digit(mnist, 0, 28))).decode()}
    url = f"{server.url}/v1/models/mnist:predict"
    ok = requests.post(url, json={"instances": [item] * MAX_ENCODED_IMAGES}, timeout=30)
    assert ok.status_code == 200, ok.text
    over = requests.post(url, json={"instances": [item] * (MAX_ENCODED_IMAGES + 1)}, timeout=30)
    assert over.status_code == 413
    assert "b64" in over.json()["error"]
