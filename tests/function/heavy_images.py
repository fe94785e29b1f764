"""Costly images (issue 20), shared by the image-price and heavy-request tests.

The slowest PNG to decode per pixel is 16-bit RGBA, interlaced (Adam7), every row
Paeth-filtered (~40 ns a pixel here, ~8x a plain 16-bit grey PNG): Pillow cannot write
one, so it is built here with numpy and zlib.
"""

from __future__ import annotations

import base64
import io
import json
import re
import struct
import zlib

import numpy as np
from PIL import Image

# Adam7's passes: (x0, y0, dx, dy)
ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
PAETH = 4
RGBA16_BYTES = 8  # bytes per pixel: the distance Paeth's "left" neighbour is away


def chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def paeth_rows(rows: np.ndarray, bpp: int) -> bytes:
    """Rows of bytes [H, W*bpp] → the PNG scanlines, each Paeth-filtered."""
    raw = rows.astype(np.int16)
    left = np.zeros_like(raw)
    left[:, bpp:] = raw[:, :-bpp]
    up = np.zeros_like(raw)
    up[1:] = raw[:-1]
    corner = np.zeros_like(raw)
    corner[1:, bpp:] = raw[:-1, :-bpp]
    guess = left + up - corner
    near_left, near_up, near_corner = (np.abs(guess - v) for v in (left, up, corner))
    predictor = np.where(
        (near_left <= near_up) & (near_left <= near_corner),
        left,
        np.where(near_up <= near_corner, up, corner),
    )
    filtered = ((raw - predictor) % 256).astype(np.uint8)
    tags = np.full((len(filtered), 1), PAETH, np.uint8)
    return np.hstack([tags, filtered]).tobytes()


def slow_png(rgba16: np.ndarray) -> bytes:
    """uint16 [H, W, 4] → an interlaced, Paeth-filtered 16-bit RGBA PNG."""
    height, width, _ = rgba16.shape
    scanlines = b""
    for x0, y0, dx, dy in ADAM7:
        sub = rgba16[y0::dy, x0::dx]
        if sub.size:
            rows = sub.astype(">u2").view(np.uint8).reshape(sub.shape[0], -1)
            scanlines += paeth_rows(rows, RGBA16_BYTES)
    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanlines))
        + chunk(b"IEND", b"")
    )


def digit_rgba16(pixels: np.ndarray, side: int) -> np.ndarray:
    """An MNIST digit (float [784] in 0..1) drawn dark on white at side x side, as 16-bit
    RGBA (opaque)."""
    gray = np.round(np.asarray(pixels).reshape(28, 28) * 255).astype(np.uint8)
    big = np.asarray(Image.fromarray(255 - gray).resize((side, side), Image.Resampling.BILINEAR))
    wide = big.astype(np.uint16) * 257
    return np.dstack([wide, wide, wide, np.full_like(wide, 65535)])


def slow_digit_pngs(digits: np.ndarray, side: int) -> list[bytes]:
    return [slow_png(digit_rgba16(d, side)) for d in digits]


def grey16_png(side: int, seed: int) -> bytes:
    """A 16-bit grey side x side PNG: a bright stroke on black (a few KB)."""
    rng = np.random.default_rng(seed)
    field = np.zeros((side, side), np.uint16)
    x0, y0 = rng.integers(side // 5, side // 2, size=2)
    field[y0 : y0 + side // 3, x0 : x0 + side // 16] = 60000
    out = io.BytesIO()
    Image.fromarray(field).save(out, format="PNG")
    return out.getvalue()


def tf_serving_body(images: list[bytes]) -> bytes:
    instances = [{"b64": base64.b64encode(image).decode()} for image in images]
    return json.dumps({"instances": instances}).encode()


def jpeg(array: np.ndarray, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "JPEG", quality=90, **options)
    return out.getvalue()


def stroke(height: int, width: int) -> np.ndarray:
    """Dark ink on white: a digit-like bar."""
    field = np.full((height, width), 255, np.uint8)
    field[height // 4 : 3 * height // 4, width // 3 : width // 3 + max(2, width // 12)] = 0
    return field


def scan_ends(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each scan: its SOS marker up to the next marker that is not RSTn."""
    ends = []
    for match in re.finditer(b"\xff\xda", data):
        pos = match.start() + 2 + int.from_bytes(data[match.start() + 2 : match.start() + 4])
        while True:
            pos = data.index(b"\xff", pos)
            if data[pos + 1] == 0 or 0xD0 <= data[pos + 1] <= 0xD7:
                pos += 2
                continue
            break
        ends.append((match.start(), pos))
    return ends


def with_repeated_scan(data: bytes, times: int) -> bytes:
    """A progressive JPEG whose last scan is repeated: libjpeg reads every copy (a pass
    over the whole image each), warning only."""
    start, end = scan_ends(data)[-1]
    return data[:end] + data[start:end] * times + data[end:]
