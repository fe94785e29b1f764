"""Images are priced from their headers before anything is decoded (issue 20): a PNG at its
pixels, a JPEG at a 64th of its pixels per pass, floods of chunks or markers priced and
capped; a request over MAX_REQUEST_PIXELS is refused before its first decode."""

from __future__ import annotations

import asyncio
import struct

import numpy as np
import pytest

from function.config import Settings
from function.inputs.decoding import ImageDecoder
from function.inputs.errors import InvalidInputError, TooManyPixelsError
from function.inputs.image_headers import (
    FREE_STEPS,
    MAX_PIXELS,
    MAX_STEPS,
    MIN_BUFFERED_PASSES,
    STEP_PIXELS,
    read_header,
)
from function.inputs.images import image_to_pixels
from tests.function.heavy_images import (
    chunk,
    grey16_png,
    jpeg,
    scan_ends,
    slow_digit_pngs,
    stroke,
    with_repeated_scan,
)
from tests.function.helpers import as_photo, encode

BUDGET = Settings(model_uri="unused").max_request_pixels


def test_a_png_costs_its_pixels():
    header = read_header(encode(stroke(200, 300), "PNG"))
    assert (header.format, header.width, header.height, header.price) == ("PNG", 300, 200, 60_000)


def test_a_sequential_jpeg_costs_a_64th_of_its_pixels():
    header = read_header(jpeg(stroke(1536, 2048)))
    assert (header.format, header.width, header.height) == ("JPEG", 2048, 1536)
    assert header.price == 2048 * 1536 // 64


def test_a_progressive_jpeg_costs_a_pass_per_scan():
    data = jpeg(stroke(512, 512), progressive=True)
    scans = len(scan_ends(data))
    assert 1 < scans < MIN_BUFFERED_PASSES
    assert read_header(data).price == 512 * 512 * MIN_BUFFERED_PASSES // 64
    repeated = with_repeated_scan(data, 40)
    assert read_header(repeated).price == 512 * 512 * (scans + 40) // 64
    assert image_to_pixels(repeated).shape == image_to_pixels(data).shape  # still legal


def test_scans_outside_the_image_data_are_not_counted():
    """A thumbnail inside a segment (Exif, here a comment) and a second frame after the end
    of the image (a phone's MPO) hold scans that are not the image's."""
    plain = jpeg(stroke(600, 800))
    other = jpeg(stroke(64, 64), progressive=True)
    comment = b"\xff\xfe" + struct.pack(">H", len(other) + 2) + other
    decorated = plain[:2] + comment + plain[2:] + other
    assert read_header(decorated).price == read_header(plain).price == 800 * 600 // 64
    np.testing.assert_allclose(image_to_pixels(decorated), image_to_pixels(plain))


def test_png_chunks_past_the_free_ones_are_priced_and_capped():
    png = encode(stroke(64, 64), "PNG")
    empty = chunk(b"abCd", b"")  # an ancillary chunk of an unknown kind: skipped by Pillow
    flooded = png[:33] + empty * 1000 + png[33:]
    steps = 1000 + 3  # IHDR, IDAT, IEND
    assert read_header(flooded).price == 64 * 64 + (steps - FREE_STEPS) * STEP_PIXELS
    np.testing.assert_allclose(image_to_pixels(flooded), image_to_pixels(png))
    with pytest.raises(InvalidInputError, match=f"more than {MAX_STEPS} chunks"):
        read_header(png[:33] + empty * MAX_STEPS + png[33:])


@pytest.mark.parametrize(
    "filler",
    [b"\xff\xfe\x00\x02", b"\x00", b"\xff"],
    ids=["comment markers", "stray bytes", "fill bytes"],
)
def test_jpeg_header_floods_are_capped(filler):
    data = jpeg(stroke(64, 64))
    sos = data.index(b"\xff\xda")
    with pytest.raises(InvalidInputError, match=f"more than {MAX_STEPS}"):
        read_header(data[:sos] + filler * (MAX_STEPS + 1) + data[sos:])


def test_a_lossless_jpeg_is_refused_from_its_header():
    data = bytearray(jpeg(stroke(64, 64)))
    data[data.index(b"\xff\xc0") + 1] = 0xC3  # SOF3: lossless, never decoded at reduced scale
    with pytest.raises(InvalidInputError, match="lossless"):
        image_to_pixels(bytes(data))


def test_the_per_image_limit_counts_a_jpeg_at_its_reduced_scale():
    data = bytearray(jpeg(stroke(64, 64)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 16_400, 16_400)  # decoded at 1/8: 2050²
    with pytest.raises(InvalidInputError, match=f"16400x16400: at most {MAX_PIXELS}"):
        read_header(bytes(data))
    data[sof + 5 : sof + 9] = struct.pack(">HH", 16_384, 16_384)  # 2048²: priced, not refused
    assert read_header(bytes(data)).price == 16_384 * 16_384 // 64


@pytest.mark.parametrize(
    "edit",
    [
        lambda png: png[:8] + png[8:33] + png[8:],  # a second IHDR
        lambda png: png[:8] + chunk(b"tEXt", b"a\x00b") + png[8:],  # IHDR not first
    ],
    ids=["two headers", "header not first"],
)
def test_a_png_has_one_header_first(edit):
    with pytest.raises(InvalidInputError):
        image_to_pixels(edit(encode(stroke(64, 64), "PNG")))


def decode(decoder: ImageDecoder, images: list[bytes]) -> np.ndarray:
    return asyncio.run(decoder.decode(images))


def test_a_request_over_the_budget_is_refused_before_any_decoding():
    """Two large 16-bit PNGs (the issue sent 64): refused from the headers; the second is
    not even a whole PNG, which decoding would have found."""
    images = [grey16_png(2048, 0), grey16_png(2048, 1)[:200]]
    decoder = ImageDecoder(threads=2, max_request_pixels=BUDGET)
    with pytest.raises(TooManyPixelsError, match="MAX_REQUEST_PIXELS") as refused:
        decode(decoder, images)
    assert refused.value.status == 413
    with pytest.raises(InvalidInputError, match="truncated"):
        decode(decoder, images[-1:])


def test_the_heaviest_legal_request_fits_the_budget_exactly(mnist):
    images = slow_digit_pngs(mnist.x_test[:64], 256)
    decoder = ImageDecoder(threads=2, max_request_pixels=BUDGET)
    assert decoder.check_budget(images) == BUDGET == 64 * 256 * 256
    rows = decode(decoder, images)
    assert rows.dtype == np.float32 and rows.shape == (64, mnist.x_test.shape[1])
    np.testing.assert_array_equal(rows, np.stack([image_to_pixels(i) for i in images]))
    with pytest.raises(TooManyPixelsError):
        decode(ImageDecoder(threads=2, max_request_pixels=BUDGET - 1), images)


def test_the_first_unusable_image_is_the_one_reported(mnist):
    good = as_photo(mnist.x_test[0], "PNG")
    blank = encode(np.full((30, 30), 128, np.uint8), "PNG")
    corrupt = good[:-40]
    decoder = ImageDecoder(threads=2, max_request_pixels=BUDGET)
    for _ in range(5):  # whichever thread finishes first
        with pytest.raises(InvalidInputError, match="blank"):
            decode(decoder, [good, blank, corrupt, good])
