"""A body of a known length written into one buffer as it arrives: what the server's
connections (:mod:`function.web.connections`) do with a large body the App streams
(:func:`function.web.body.read_buffer`), its end, its errors and its one timer.

The buffer is allocated once, at the body's length (not zeroed: every byte is written),
and shifted so that a byte the reader names (``aligned_at``) starts an ``ALIGNMENT``
boundary: V2's binary tensors start after a JSON header of any length, and LiteRT copies
an unaligned tensor once more before its own copy (an 800 KB tensor: 25 µs instead of 11
here), and numpy reads it at a third of the speed.
"""

from __future__ import annotations

import asyncio

import numpy as np

from function.inputs.errors import InvalidInputError
from function.runtime.memory import MMAP_THRESHOLD, populate
from function.web.errors import BodyTimeoutError

ALIGNMENT = 64  # bytes: a cache line, and the width of AVX-512's loads


class BodySink:
    """A body of a known length, written into one buffer as its chunks arrive.

    The connection calls :meth:`write` for every chunk the parser gives it, or reads the
    rest of the body straight into :meth:`rest` (:mod:`function.web.reads`) and tells
    :meth:`wrote`; then :meth:`finish` at its end (or :meth:`fail`). The reader awaits
    :attr:`done`. One timer per body: when it fires, it fails the body if nothing came for
    ``timeout`` seconds, else waits for the rest."""

    __slots__ = (
        "_filled",
        "_fresh",
        "_last",
        "_loop",
        "_timeout",
        "_timer",
        "_view",
        "buffer",
        "done",
    )

    def __init__(
        self,
        size: int,
        first: bytes,
        loop: asyncio.AbstractEventLoop,
        timeout: float,
        aligned_at: int = 0,
    ) -> None:
        spare = np.empty(size + ALIGNMENT, np.uint8)  # not zeroed: every byte is written
        self._fresh = spare.nbytes >= MMAP_THRESHOLD  # a mapping of its own: no page there
        start = -(spare.ctypes.data + aligned_at) % ALIGNMENT
        self.buffer = spare[start : start + size]  # its byte aligned_at on the boundary
        self._view: memoryview | None = memoryview(self.buffer)
        self._filled = 0
        self._loop = loop
        self._timeout = timeout
        self.done: asyncio.Future[None] = loop.create_future()
        self._last = loop.time()
        self._timer: asyncio.TimerHandle | None = loop.call_at(self._last + timeout, self._check)
        self.write(first)

    def write(self, chunk: bytes | bytearray) -> None:
        view = self._view
        if view is None:  # failed or given up: the rest is dropped
            return
        start = self._filled
        end = start + len(chunk)
        if end > len(view):
            self.fail(InvalidInputError("the request body is longer than its Content-Length"))
            return
        view[start:end] = chunk
        self.wrote(len(chunk))

    @property
    def missing(self) -> int:
        """Bytes of the body still to come."""
        return len(self.buffer) - self._filled

    def rest(self, most: int) -> memoryview | None:
        """The next ``most`` bytes of the buffer still to be filled, for a read to land in
        (None once the sink is closed: the rest is dropped). In a fresh mapping, their pages
        are faulted in first, at once: only as far as the read goes, so a body that is slow
        to come holds no more memory than it sent."""
        view = self._view
        if view is None:
            return None
        start = self._filled
        end = min(start + most, len(view))
        if self._fresh:
            populate(self.buffer[start:end])
        return view[start:end]

    def wrote(self, nbytes: int) -> None:
        """``nbytes`` more of the body were read into :meth:`rest` (or copied by :meth:`write`)."""
        if self._view is None:
            return
        self._filled += nbytes
        self._last = self._loop.time()

    def finish(self) -> None:
        if self._view is None:
            return
        if self._filled < len(self.buffer):
            self.fail(InvalidInputError("the request body is shorter than its Content-Length"))
        else:
            if not self.done.done():
                self.done.set_result(None)
            self.close()

    def fail(self, exc: Exception) -> None:
        if self._view is None:  # closed: nobody awaits the body any more
            return
        if not self.done.done():
            self.done.set_exception(exc)
        self.close()

    def close(self) -> None:
        """No more deadline (the body is complete, failed, or no longer awaited)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._view = None

    def _check(self) -> None:
        due = self._last + self._timeout
        if self._loop.time() >= due:
            self._timer = None
            self.fail(body_timeout(self._timeout))
        else:
            self._timer = self._loop.call_at(due, self._check)


def body_timeout(seconds: float) -> BodyTimeoutError:
    return BodyTimeoutError(
        f"the request body stopped arriving: nothing for {seconds:g} s (BODY_TIMEOUT_SECONDS)"
    )
