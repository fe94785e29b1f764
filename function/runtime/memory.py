"""Heap memory handed back to the operating system after large requests.

A 1,024-image batch or a large image allocates tens of MB for an instant. glibc's
``malloc`` keeps what is freed in its arenas for the next allocation, so a worker's resident
memory stays near its peak long after the request: in tests/function/test_memory.py
(1,024-image batches, large PNGs, bad bodies) 66 MB after warm-up, 114 MB at the peak and
113 MB afterwards, for good. ``malloc_trim(0)`` returns the free pages of every arena (the
decode threads' too) to the system: 79 MB afterwards.

glibc also raises its mmap threshold (up to 32 MB) each time a large block is freed, so
later large arrays land in the heap instead of mappings of their own; fixing the threshold
(``mallopt(M_MMAP_THRESHOLD)``) keeps every large array in its own mapping, unmapped when
freed: the same sequence peaks at 85-88 MB instead of 114 (78 MB afterwards).

The threshold is 1 MiB, not glibc's initial 128 KiB: a V2 binary request of 256 digits (803
KB) arrived in uvloop reads of up to 256 KB, each copied again by the HTTP parser, into one
803 KB buffer (:class:`function.web.body_sink.BodySink`; today the kernel reads all but its
first bytes straight into that buffer, :mod:`function.web.reads`). As mappings of their own,
every one of those blocks was page-faulted in and unmapped again on every request: ~45% of a
worker's CPU under that load, more than LiteRT's. In the heap they are reused; the top of
the heap is kept up to ``TRIM_THRESHOLD`` (``M_TRIM_THRESHOLD``, glibc's default 128 KiB)
rather than handed back and faulted in again at each ``free``. The trims below still return
it all after large requests. Measured (same run, one core, wrk on the other): 80,000 →
145,000 images/s for V2 binary 256 against 218,000 for LiteRT alone. At 8 MiB, 16
connections' 803 KB bodies still crossed it now and then: 4 to 144 page faults per request
from one run to the next (and up to 20% fewer requests/s); at 64 MiB, 2 to 7 in every run,
the worker's resident size under that load the same (77-80 MB) and, after the trim, the same
62 MB.

A trim costs ~0.8 ms after a 1,024-image batch (a few µs when little is free), so it runs
only after a large request (a body or answer of at least ``large_bytes``, or a request that
took at least ``slow_seconds``: a large image's compressed body is small), at most once per
``interval_seconds``; a large request inside the interval schedules one trim at its end,
so the last of a burst is trimmed too. Without glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging
import mmap
import time
from collections.abc import Callable

import numpy as np

log = logging.getLogger("digitrun")

LARGE_BYTES = 256 * 1024
SLOW_SECONDS = 0.05
INTERVAL_SECONDS = 1.0
MMAP_THRESHOLD = 1024 * 1024  # over a 256-digit V2 binary body and a 256 KB socket read
TRIM_THRESHOLD = 64 * 1024 * 1024  # the trims, not free(), hand the heap's top back
M_TRIM_THRESHOLD = -1  # <malloc.h>
M_MMAP_THRESHOLD = -3
MADV_POPULATE_WRITE = 23  # <linux/mman.h>


@functools.cache
def glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has ``malloc_trim`` and ``mallopt``), else None:
    the symbols the process has loaded already (``CDLL(None)``; ``find_library`` would run
    ``ldconfig`` at start-up)."""
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    except (OSError, AttributeError, TypeError):
        return None
    libc.malloc_trim.restype = ctypes.c_int
    libc.mallopt.restype = ctypes.c_int
    libc.madvise.restype = ctypes.c_int
    return libc


def populate(array: np.ndarray) -> None:
    """Fault in every page of ``array`` with one ``madvise``, before the kernel writes a
    socket's bytes into it (nothing where ``MADV_POPULATE_WRITE`` is unknown: Linux before
    5.14, not glibc).

    The kernel's copy into a page that is not there yet faults twice (the copy runs with
    page faults off, fails, and is retried after the page is faulted in): a 1.5 MB JSON
    batch read straight into a fresh mapping took ~740 page faults per request here instead
    of ~440. Worth it only for a fresh mapping (``MMAP_THRESHOLD`` bytes or more): a smaller
    array lives in the heap, whose pages are mostly there already."""
    libc = glibc()
    if libc is not None and array.nbytes:
        start = array.ctypes.data
        first_page = start & -mmap.PAGESIZE
        libc.madvise(first_page, start + array.nbytes - first_page, MADV_POPULATE_WRITE)


def glibc_trim() -> Callable[[], int] | None:
    """glibc's ``malloc_trim(0)``, or None when the C library is not glibc."""
    libc = glibc()
    if libc is None:
        return None
    trim = libc.malloc_trim
    return lambda: trim(0)


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD, trim: int = TRIM_THRESHOLD) -> bool:
    """Blocks of ``threshold`` bytes or more get mappings of their own, for good (glibc's
    threshold stops rising), and ``free`` leaves up to ``trim`` bytes at the top of the
    heap; False when not glibc or refused."""
    libc = glibc()
    return (
        libc is not None
        and libc.mallopt(M_MMAP_THRESHOLD, threshold) == 1
        and libc.mallopt(M_TRIM_THRESHOLD, trim) == 1
    )


class HeapTrimmer:
    """Calls ``trim`` after large requests, at most once per ``interval_seconds``."""

    def __init__(
        self,
        trim: Callable[[], int] | None,
        large_bytes: int = LARGE_BYTES,
        slow_seconds: float = SLOW_SECONDS,
        interval_seconds: float = INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._trim = trim
        self.large_bytes = large_bytes
        self.slow_seconds = slow_seconds
        self.interval_seconds = interval_seconds
        self._clock = clock
        self._last = -interval_seconds
        self._pending: asyncio.TimerHandle | None = None
        self.trims = 0  # how many times the heap was trimmed

    @property
    def enabled(self) -> bool:
        return self._trim is not None

    def is_large(self, body_bytes: int, seconds: float) -> bool:
        """Whether a request may have left freed memory worth returning."""
        return body_bytes >= self.large_bytes or seconds >= self.slow_seconds

    def after_request(self, body_bytes: int, seconds: float) -> None:
        """Trim now after a large request, or once the interval is over; else nothing."""
        if self._trim is None or self._pending is not None:
            return
        if not self.is_large(body_bytes, seconds):
            return
        wait = self._last + self.interval_seconds - self._clock()
        if wait <= 0:
            self.trim()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a synchronous caller): trim on a later request
            return
        self._pending = loop.call_later(wait, self._deferred)

    def trim(self) -> None:
        """Return the free heap pages to the system now."""
        if self._trim is None:
            return
        self._last = self._clock()
        self._trim()
        self.trims += 1

    def _deferred(self) -> None:
        self._pending = None
        self.trim()


def heap_trimmer() -> HeapTrimmer:
    """The process's trimmer (glibc's ``malloc_trim``, or one that does nothing), with the
    mmap threshold fixed; made before the workers fork, which inherit both."""
    trim = glibc_trim()
    if trim is None or not fix_mmap_threshold():
        log.debug("not glibc: freed heap memory is returned when the allocator decides")
    return HeapTrimmer(trim)
