"""MNIST-style preprocessing of PNG/JPEG pictures."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from function.inputs.errors import InvalidInputError
from function.inputs.images import image_to_pixels, mnist_layout
from tests.function.helpers import as_photo, encode, to_u8


@pytest.fixture(scope="module")
def sample(mnist) -> np.ndarray:
    return mnist.x_test[:100]


def test_an_mnist_digit_comes_back_as_itself(sample):
    """MNIST digits are already in MNIST's layout: only faint noise (< 0.1) may change, and
    a few digits whose centre of mass rounds the other way move by one pixel."""
    same = 0
    for image in sample:
        out = image_to_pixels(encode(to_u8(image), "PNG"))
        assert out.dtype == np.float32 and out.shape == (784,)
        same += np.abs(out - image).max() <= 0.1 + 1 / 255
    assert same >= 0.95 * len(sample)


def test_output_is_in_mnist_layout(sample):
    out = image_to_pixels(as_photo(sample[0], "JPEG")).reshape(28, 28)
    assert out.min() >= 0.0 and out.max() <= 1.0
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # fits the 20x20 box
    mass = out.sum()
    cy = (out.sum(axis=1) @ np.arange(28)) / mass
    cx = (out.sum(axis=0) @ np.arange(28)) / mass
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1


def test_light_background_is_inverted(sample):
    dark_on_light = encode(255 - to_u8(sample[0]), "PNG")
    plain = image_to_pixels(encode(to_u8(sample[0]), "PNG"))
    np.testing.assert_allclose(image_to_pixels(dark_on_light), plain, atol=0.02)


@pytest.mark.parametrize("ink", [0, 255])
def test_drawing_on_a_transparent_canvas(sample, ink):
    alpha = to_u8(sample[0])
    rgba = np.dstack([np.full_like(alpha, ink)] * 3 + [alpha])
    out = image_to_pixels(encode(rgba, "PNG"))
    np.testing.assert_allclose(out, image_to_pixels(encode(alpha, "PNG")), atol=0.02)


def test_16_bit_and_palette_images(sample):
    wide = (to_u8(sample[0]).astype(np.uint16) * 257).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(wide).save(buffer, "PNG")
    expected = image_to_pixels(encode(to_u8(sample[0]), "PNG"))
    np.testing.assert_allclose(image_to_pixels(buffer.getvalue()), expected, atol=0.02)
    palette = io.BytesIO()
    Image.fromarray(to_u8(sample[0])).convert("P").save(palette, "PNG")
    np.testing.assert_allclose(image_to_pixels(palette.getvalue()), expected, atol=0.05)


def test_wide_and_tiny_strokes_keep_their_aspect():
    bar = np.zeros((50, 200), np.float32)
    bar[20:30, :] = 255.0  # a 10x200 stroke → 1x20 after fitting
    out = mnist_layout(bar).reshape(28, 28)
    rows = np.flatnonzero(out.any(axis=1))
    cols = np.flatnonzero(out.any(axis=0))
    assert cols[-1] - cols[0] + 1 == 20
    assert rows[-1] - rows[0] + 1 <= 2
    dot = np.zeros((9, 9), np.float32)
    dot[4, 4] = 255.0
    assert mnist_layout(dot).max() > 0


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "not a readable"),
        (b"GIF89a....", "not a readable"),
        (encode(np.zeros((4, 4, 3), np.uint8), "GIF"), "not a readable"),
        (encode(np.full((30, 30), 128, np.uint8), "PNG"), "blank"),
        (encode(np.zeros((4100, 4100), np.uint8), "PNG"), "at most"),
    ],
)
def test_unusable_pictures(data, fragment):
    with pytest.raises(InvalidInputError, match=fragment):
        image_to_pixels(data)
