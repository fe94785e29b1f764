"""What decoding a PNG or JPEG will cost, read from its structure before any decoding.

A request's images share one budget, ``MAX_REQUEST_PIXELS``, spent before anything is
decoded: each image is priced in pixels from its header and structure, and the request is
refused (413) when the sum passes the budget, so no legal request keeps a worker busy for
long (issue 20). Prices, measured on the worst case of each kind:

* a PNG: its width x height (the slowest PNG, 16-bit RGBA, Paeth-filtered and
  interlaced, decodes at ~40 ns a pixel);
* a JPEG: width x height / 64 per pass over the image. A sequential JPEG is one pass and
  is decoded at reduced scale (``Image.draft``: up to 1/8 on each side). A progressive (or
  multi-scan) JPEG is held whole in memory as coefficients and read once per scan: as many
  passes as it has scans, at least ``MIN_BUFFERED_PASSES``;
* each PNG chunk, and each JPEG marker or stray byte before its image data, past the
  first ``FREE_STEPS``: ``STEP_PIXELS``. Pillow reads those in Python, ~1-2 us each.

The walk here is bounded (``MAX_STEPS`` per image) and runs at C speed where it can
(``bytes.find`` / ``count``), so a body of 4 MB of tiny chunks costs milliseconds here
instead of the ~0.5 s Pillow would spend on it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from function.inputs.errors import InvalidInputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_START = b"\xff\xd8\xff"
# Pillow decodes at most this many pixels per image (a JPEG at its reduced scale).
MAX_PIXELS = 2048 * 2048
STEP_PIXELS = 64  # the price of one PNG chunk or JPEG header step (marker, stray byte)
FREE_STEPS = 64  # steps an image may take unpriced: an ordinary image takes a few dozen
MAX_STEPS = 4096  # chunks / header steps per image: libpng writes 8 KB IDATs, ~500 per 4 MB
JPEG_PASS_SHARE = 64  # a JPEG pass costs ~1/64 of a PNG pixel per full-size pixel
MIN_BUFFERED_PASSES = 16  # also bounds a progressive JPEG's coefficient memory
DRAFT_SIDE = 256  # a JPEG is decoded at the smallest scale (1/2..1/8) keeping this side
UNREADABLE = "the body is not a readable PNG or JPEG image"
_SEQUENTIAL = frozenset((0xC0, 0xC1, 0xC9))  # baseline, extended (Huffman, arithmetic)
_PROGRESSIVE = frozenset((0xC2, 0xCA))
_STANDALONE = frozenset((0x01, *range(0xD0, 0xD8)))  # TEM, RSTn: no length
_SOS, _EOI = 0xDA, 0xD9


@dataclass(frozen=True)
class Header:
    """An image's format, size (full size, as stored) and price in pixels."""

    format: str  # "PNG" or "JPEG"
    width: int
    height: int
    price: int


def read_header(data: bytes) -> Header:
    """The image's header and price; 400 when it is not a usable PNG or JPEG, or when it
    would decode to more than MAX_PIXELS pixels."""
    if data.startswith(PNG_SIGNATURE):
        return _png(data)
    if data.startswith(JPEG_START):
        return _jpeg(data)
    raise InvalidInputError(UNREADABLE)


def draft_size(width: int, height: int) -> tuple[int, int]:
    """The size Pillow decodes a width x height JPEG at after ``draft(.., DRAFT_SIDE)``."""
    scale = min(width // DRAFT_SIDE, height // DRAFT_SIDE)
    factor = next(f for f in (8, 4, 2, 1) if scale >= f or f == 1)
    return -(-width // factor), -(-height // factor)


def _png(data: bytes) -> Header:
    size: tuple[int, int] | None = None
    pos, steps, end = len(PNG_SIGNATURE), 0, len(data)
    while pos + 8 <= end:
        length, kind = struct.unpack_from(">I4s", data, pos)
        steps += 1
        _check_steps(steps, "PNG", "chunks")
        if kind == b"IHDR":
            if size is not None or length < 8 or pos + 16 > end:
                raise InvalidInputError("the PNG image is truncated or corrupt")
            size = struct.unpack_from(">II", data, pos + 8)
        elif size is None:  # IHDR comes first
            raise InvalidInputError(UNREADABLE)
        if kind == b"IEND":
            break
        pos += 12 + length
    if size is None or 0 in size:
        raise InvalidInputError(UNREADABLE)
    width, height = size
    _check_pixels(width, height, width, height)
    return Header("PNG", width, height, width * height + _steps_price(steps))


def _jpeg(data: bytes) -> Header:
    frame: tuple[int, int, int] | None = None  # marker, width, height
    pos, steps, end = 2, 0, len(data)
    while True:
        start = data.find(b"\xff", pos, pos + MAX_STEPS + 1)  # Pillow skips strays bytewise
        if start < 0:
            raise InvalidInputError(UNREADABLE if pos + MAX_STEPS >= end else _many("JPEG"))
        marker_at = (
            start
            + len(data[start : start + MAX_STEPS + 1])
            - len(data[start : start + MAX_STEPS + 1].lstrip(b"\xff"))
        )  # after the fill bytes (0xFF padding)
        steps += marker_at - pos  # each stray or fill byte is one turn of Pillow's loop
        _check_steps(steps, "JPEG", "header markers or stray bytes")
        if marker_at >= end:
            raise InvalidInputError(UNREADABLE)
        marker, pos = data[marker_at], marker_at + 1
        if marker in _STANDALONE or marker == 0:
            continue
        if marker == _EOI or pos + 2 > end:
            raise InvalidInputError(UNREADABLE)
        (length,) = struct.unpack_from(">H", data, pos)
        if marker == _SOS:
            break
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            frame = _frame(data, pos, length, marker, frame)
        pos += length
    if frame is None:
        raise InvalidInputError(UNREADABLE)
    kind, width, height = frame
    _check_pixels(width, height, *draft_size(width, height))
    price = _jpeg_price(data, marker_at - 1, kind, width * height, steps)  # from the FF
    return Header("JPEG", width, height, price)


def _frame(
    data: bytes, pos: int, length: int, marker: int, seen: tuple[int, int, int] | None
) -> tuple[int, int, int]:
    """A SOF segment → (marker, width, height); one frame per image, of a kind decoded
    at reduced scale (lossless and hierarchical JPEGs are not)."""
    if seen is not None or length < 8 or pos + 7 > len(data):
        raise InvalidInputError("the JPEG image is truncated or corrupt")
    if marker not in _SEQUENTIAL and marker not in _PROGRESSIVE:
        raise InvalidInputError(
            "the JPEG is lossless or hierarchical: send a baseline or progressive JPEG"
        )
    height, width = struct.unpack_from(">HH", data, pos + 3)
    if not width or not height:
        raise InvalidInputError(UNREADABLE)
    return marker, width, height


def _jpeg_price(data: bytes, sos: int, kind: int, pixels: int, steps: int) -> int:
    eoi = data.find(b"\xff\xd9", sos)  # inside scans 0xFF is escaped: every FFDA is a scan
    scans = data.count(b"\xff\xda", sos, eoi if eoi >= 0 else len(data))
    passes = 1 if kind in _SEQUENTIAL and scans == 1 else max(scans, MIN_BUFFERED_PASSES)
    return -(-pixels * passes // JPEG_PASS_SHARE) + _steps_price(steps)


def _steps_price(steps: int) -> int:
    return max(0, steps - FREE_STEPS) * STEP_PIXELS


def _check_pixels(width: int, height: int, decoded_width: int, decoded_height: int) -> None:
    if decoded_width * decoded_height > MAX_PIXELS:
        raise InvalidInputError(
            f"image is {width}x{height}: at most {MAX_PIXELS} pixels are accepted"
        )


def _check_steps(steps: int, kind: str, what: str) -> None:
    if steps > MAX_STEPS:
        raise InvalidInputError(_many(kind, what))


def _many(kind: str, what: str = "header markers or stray bytes") -> str:
    return f"the {kind} image has more than {MAX_STEPS} {what}: it is not accepted"
