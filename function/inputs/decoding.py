"""A request's PNG/JPEG images → the model's input, decoded off the event loop.

One request's images are priced first, from their headers, against ``MAX_REQUEST_PIXELS``
(:mod:`function.inputs.image_headers`): over it, 413 before anything is decoded. Then
every image is decoded in a small thread pool (``DECODE_THREADS`` per worker process):
Pillow releases the GIL while it decodes, converts and resizes, so the event loop goes on
answering other requests, the health probes among them, while a heavy request decodes.
The pool is made on first use in each process (after gunicorn's fork: threads do not
survive one) and shared by every protocol of the process.

Large JSON bodies are read off the event loop too, in one thread of their own
(:meth:`ImageDecoder.run_serial`), one body at a time: simdjson holds the GIL while it
parses, so a second thread parsed nothing sooner — it only kept a second body's arrays
alive at once, and found the kept parser busy and made a fresh one (~6 MB for a 256-digit
batch). The event loop still runs between a body's steps.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, TypeVar

import numpy as np

from function.contract.spec import SPEC
from function.inputs.errors import TooManyPixelsError
from function.inputs.image_headers import Header, read_header
from function.inputs.images import image_to_pixels

_T = TypeVar("_T")


class ImageDecoder:
    """Decodes the images of one request within its pixel budget, in a bounded pool."""

    def __init__(self, threads: int, max_request_pixels: int) -> None:
        self.threads = threads
        self.max_request_pixels = max_request_pixels
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pid = 0

    async def decode(self, images: Sequence[bytes]) -> np.ndarray:
        """The images as float32 [N, 784] in 0..1 (MNIST-style); 413 over the budget,
        400 for the first (lowest index) image that is not usable."""
        headers = await self.run(self._priced, images)
        results = await asyncio.gather(
            *(
                self.run(image_to_pixels, data, header)
                for data, header in zip(images, headers, strict=True)
            ),
            return_exceptions=True,
        )
        for result in results:  # every image has finished: none is left running
            if isinstance(result, BaseException):
                raise result
        rows = np.empty((len(images), SPEC.input.features), np.float32)
        for row, pixels in zip(rows, results, strict=True):
            row[:] = pixels
        return rows

    def check_budget(self, images: Sequence[bytes]) -> int:
        """The images' total price in pixels; 413 as soon as it passes the budget, 400 for
        an image that is not usable. Bounded work: no image is decoded."""
        return sum(header.price for header in self._priced(images))

    def _priced(self, images: Sequence[bytes]) -> list[Header]:
        """Each image's header (read once: decoding reuses it); 413 as soon as their
        prices pass the budget."""
        headers: list[Header] = []
        total = 0
        for data in images:
            headers.append(header := read_header(data))
            total += header.price
            if total > self.max_request_pixels:
                raise TooManyPixelsError(
                    f"the images would decode to more than {self.max_request_pixels} "
                    "pixels (MAX_REQUEST_PIXELS): send fewer or smaller images"
                )
        return headers

    async def run(self, function: Callable[..., _T], *arguments: Any) -> _T:
        """``function(*arguments)`` in the decode pool, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor("decode", self.threads), function, *arguments
        )

    async def run_serial(self, function: Callable[..., _T], *arguments: Any) -> _T:
        """``function(*arguments)`` off the event loop, in the one thread that runs these
        one at a time (JSON bodies)."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor("json", 1), function, *arguments
        )

    def _executor(self, name: str, threads: int) -> ThreadPoolExecutor:
        if self._pid != os.getpid():  # none yet, or made before a fork: threads are gone
            self._pools = {}
            self._pid = os.getpid()
        pool = self._pools.get(name)
        if pool is None:
            pool = ThreadPoolExecutor(threads, thread_name_prefix=f"digitrun-{name}")
            self._pools[name] = pool
        return pool


@cache
def shared_decoder(threads: int, max_request_pixels: int) -> ImageDecoder:
    """The process's decoder for these settings: one pool, whichever protocol decodes."""
    return ImageDecoder(threads, max_request_pixels)
