"""A grayscale image → PNG bytes, with zlib alone (the client needs no imaging library)."""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
GRAY_8BIT = (8, 0, 0, 0, 0)  # bit depth, colour type gray, deflate, filter 0, no interlace


def encode_gray(pixels: np.ndarray) -> bytes:
    """An 8-bit grayscale image [H, W] as a PNG file."""
    image = np.ascontiguousarray(pixels, dtype=np.uint8)
    if image.ndim != 2:
        raise ValueError(f"expected one [H, W] image, got shape {image.shape}")
    height, width = image.shape
    # each scanline starts with its filter type: 0 (none)
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image], axis=1)
    header = struct.pack(">II", width, height) + bytes(GRAY_8BIT)
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def image_type(data: bytes) -> str | None:
    """The media type of an encoded image the service reads (PNG, JPEG), else None."""
    if data.startswith(SIGNATURE):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None
