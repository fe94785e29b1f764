"""PNG/JPEG → the model's input, prepared the way MNIST's digits were.

MNIST's digits are white ink on black, size-normalised to fit a 20x20 box (keeping their
aspect ratio, anti-aliased) and placed in a 28x28 field with their centre of mass at the
centre. A photo or a drawing is brought to the same form: grayscale (transparent parts
laid on a background that contrasts with the ink), light backgrounds inverted, the
background level removed, cropped to the ink, fitted to 20x20, centred by mass.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from function.contract.spec import SPEC
from function.inputs.errors import InvalidInputError
from function.inputs.image_headers import (
    DRAFT_SIDE,
    MAX_PIXELS,
    UNREADABLE,
    Header,
    read_header,
)

if TYPE_CHECKING:
    from PIL import Image

FORMATS = ("PNG", "JPEG")  # an MPO (a phone's JPEG with extra frames) opens as JPEG
__all__ = ["MAX_ENCODED_IMAGES", "MAX_PIXELS", "image_to_pixels", "mnist_layout"]
WORK_SIDE = 256  # decoded images are shrunk to this longest side before any float work
MAX_ENCODED_IMAGES = 64  # PNG/JPEG images per request (TF Serving b64 instances)
FIELD = SPEC.input.height  # MNIST's 28x28 field (the spec's images are square)
BOX = 20  # MNIST's digits were fitted to 20x20 inside that field
NOISE_FLOOR = 0.1  # ink below this share of the strongest stroke is background noise
MIN_CONTRAST = 24.0  # gray levels between background and ink: less is a blank image
OPAQUE = 255.0  # an 8-bit alpha channel's full opacity


def image_to_pixels(data: bytes, header: Header | None = None) -> np.ndarray:
    """A PNG or JPEG → float32 [784] in 0..1, MNIST-style; 400 when it is not usable.

    The header is checked first (:func:`~function.inputs.image_headers.read_header`: at
    most MAX_PIXELS decoded pixels, a bounded structure; ``header`` when the caller has
    read it already); Pillow releases the GIL while it
    decodes, converts and resizes, so this may run in a thread beside the event loop."""
    gray = _decode_gray(data, header)
    return mnist_layout(gray)


def _decode_gray(data: bytes, header: Header | None) -> np.ndarray:
    """The image's luminance as float32 [H, W] in 0..255."""
    # Pillow is imported by the first picture, not at start-up (a cold start pays ~15 ms less).
    from PIL import Image, ImageOps, UnidentifiedImageError  # noqa: PLC0415

    if header is None:  # else the caller read it (it priced the image: decoding.py)
        header = read_header(data)
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            if image.size != (header.width, header.height):  # priced by another header
                raise InvalidInputError(f"the {header.format} image is truncated or corrupt")
            if image.format in ("JPEG", "MPO"):  # the digit ends up 20x20: a big photo
                image.draft("L", (DRAFT_SIDE, DRAFT_SIDE))  # need not be decoded in full
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InvalidInputError(
                    f"image is {width}x{height}: at most {MAX_PIXELS} pixels are accepted"
                )
            image = ImageOps.exif_transpose(image)  # phone photos carry their rotation
            factor = -(-max(image.size) // WORK_SIDE)  # ceil: the digit ends up 20x20 anyway
            if factor > 1:
                if image.mode == "P":  # reduce() averages pixels, not palette indices
                    image = image.convert("RGBA" if "transparency" in image.info else "RGB")
                elif image.mode in ("1", "I;16", "I;16B", "I;16L"):
                    image = image.convert("I" if image.mode.startswith("I") else "L")
                image = image.reduce(factor)
            return _luminance(image)
    except InvalidInputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise InvalidInputError(UNREADABLE) from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError):
        raise InvalidInputError("the PNG or JPEG image is truncated or corrupt") from None


def _luminance(image: Image.Image) -> np.ndarray:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        wide = np.asarray(image, dtype=np.float32)
        top = float(wide.max()) if wide.size else 0.0
        return wide * (255.0 / top) if top > 255 else wide
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if not has_alpha:
        return np.asarray(image.convert("L"), dtype=np.float32)
    both = np.asarray(image.convert("LA"), dtype=np.float32)
    lum, alpha = both[..., 0], both[..., 1] / OPAQUE
    if alpha.min() >= 1.0:
        return lum
    # A drawing on a transparent canvas: lay it on the background its ink contrasts with.
    weight = alpha.sum()
    ink = float((lum * alpha).sum() / weight) if weight > 0 else 0.0
    background = 255.0 if ink < 128.0 else 0.0
    return lum * alpha + background * (1.0 - alpha)


def mnist_layout(gray: np.ndarray) -> np.ndarray:
    """Luminance [H, W] in 0..255 → float32 [784] in 0..1 laid out as MNIST's digits."""
    border = np.concatenate((gray[0], gray[-1], gray[:, 0], gray[:, -1]))
    background = float(np.median(border))
    if background > 127.5:  # dark ink on a light background: MNIST's ink is light
        gray = 255.0 - gray
        background = 255.0 - background
    ink = gray - background
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise InvalidInputError("no digit found: the image is blank")
    ink = ink / peak
    ink[ink < NOISE_FLOOR] = 0.0
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    fitted = _fit(crop)
    return _centre(fitted).reshape(SPEC.input.features)


def _fit(crop: np.ndarray) -> np.ndarray:
    """Scale so that the longer side is BOX pixels, keeping the aspect ratio."""
    height, width = crop.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    from PIL import Image  # noqa: PLC0415 (see _decode_gray)

    image = Image.fromarray(np.ascontiguousarray(crop, dtype=np.float32), mode="F")
    resized = np.asarray(image.resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    return np.clip(resized, 0.0, 1.0)


def _centre(digit: np.ndarray) -> np.ndarray:
    """Place ``digit`` in a FIELDxFIELD image with its centre of mass at the centre."""
    height, width = digit.shape
    field = np.zeros((FIELD, FIELD), np.float32)
    mass = float(digit.sum())
    if mass > 0:
        cy = float(digit.sum(axis=1) @ np.arange(height)) / mass
        cx = float(digit.sum(axis=0) @ np.arange(width)) / mass
    else:
        cy, cx = (height - 1) / 2, (width - 1) / 2
    # MNIST's centres of mass sit at pixel index 14.0 on both axes (measured on its test set)
    top = min(max(round(FIELD / 2 - cy), 0), FIELD - height)
    left = min(max(round(FIELD / 2 - cx), 0), FIELD - width)
    field[top : top + height, left : left + width] = digit
    return field
