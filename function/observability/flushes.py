"""When buffered metric values become visible in multiprocess mode, and how a scrape knows.

A worker's :class:`function.observability.metrics.Recorder` holds what it records in plain
numbers; in multiprocess mode (several workers, or METRICS_PORT served by the gunicorn
master) the process answering a scrape cannot flush the others. So each worker flushes on
its own, ``FLUSH_SECONDS`` after the first record that is not flushed yet (a timer on its
event loop: a burst coalesces into one flush; an idle worker is flushed within
``FLUSH_SECONDS``), and when it stops: at exit, and, under a server that drains on SIGTERM
(uvicorn), from the signal on. Each flush *cycle* is counted in a :class:`FlushLedger`,
a 16-byte file ``flush_<pid>.ledger`` in ``PROMETHEUS_MULTIPROC_DIR`` holding the last
cycle started (written with its first record, before that request is answered) and the
last one flushed. A scrape first notes every live worker's started cycle, then waits
(:func:`wait_for_flushes`, at most ``SCRAPE_WAIT_SECONDS``) until each has flushed it:
every request answered before the scrape began is in it, whatever the load, unless a
worker's event loop is blocked for longer than that.

The staleness bound: the shared files lag a worker's records by at most ``FLUSH_SECONDS``
plus the longest step its event loop is busy with (one request's handling); a scrape is
exact as above; records are lost only when a worker dies without draining (SIGKILL, a
crash): at most its last ``FLUSH_SECONDS``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import mmap
import os
import signal
import struct
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Protocol

from function.observability.mode import ENV

FLUSH_SECONDS = 0.01  # a worker's records reach the shared files within this
# Predicted digits (or one route's requests) pending at most: bounds memory without a
# scrape (~1.2 MB of one-digit records). A flush costs ~200 µs in the server, its code
# cold after LiteRT: at 1,024 it was ~50 µs of every 256-digit V2 request.
FLUSH_LIMIT = 8192
SCRAPE_WAIT_SECONDS = 1.0  # the longest a scrape waits for the workers' flushes
POLL_SECONDS = 0.001
_PREFIX = "flush_"
_SUFFIX = ".ledger"
_STATE = struct.Struct("<qq")  # last cycle started, last cycle flushed
_CYCLE = struct.Struct("<q")


class Flushable(Protocol):
    """What holds buffered values (a Recorder)."""

    def flush(self) -> None: ...

    def forget(self) -> None: ...


# Every buffer of this process, for the flushes not tied to one: exposition, exit, fork.
_BUFFERS: weakref.WeakSet[Flushable] = weakref.WeakSet()


def register(buffer: Flushable) -> None:
    """Flush ``buffer`` with :func:`flush_all` and at exit; empty it in a forked child
    (what the parent recorded is the parent's to flush)."""
    _BUFFERS.add(buffer)


def flush_all() -> None:
    """Flush every registered buffer of this process (before an exposition, at exit)."""
    for buffer in list(_BUFFERS):
        buffer.flush()


def _forget_after_fork() -> None:
    for buffer in list(_BUFFERS):
        buffer.forget()


atexit.register(flush_all)
os.register_at_fork(after_in_child=_forget_after_fork)


class FlushLedger:
    """This process's flush cycles, in a file other processes read (see the module)."""

    def __init__(self, directory: str, pid: int) -> None:
        self.pid = pid
        self.path = Path(directory) / f"{_PREFIX}{pid}{_SUFFIX}"
        with self.path.open("w+b") as file:
            file.write(bytes(_STATE.size))
            file.flush()
            self._map = mmap.mmap(file.fileno(), _STATE.size)
        self.started = 0

    def start(self) -> None:
        """A cycle begins: something was recorded that the files do not hold yet."""
        self.started += 1
        _CYCLE.pack_into(self._map, 0, self.started)

    def flushed(self) -> None:
        """Everything recorded up to now is in the files."""
        _CYCLE.pack_into(self._map, _CYCLE.size, self.started)

    def close(self) -> None:
        """Release the mapping (the file stays: a scrape still reads it)."""
        self._map.close()


class FlushTimer:
    """Calls ``flush`` ``seconds`` after :meth:`start` on the running event loop (at once
    without one), and keeps this process's :class:`FlushLedger` when ``directory`` (the
    multiprocess directory) is given. Its owner calls :meth:`start` on the first record
    since the last flush and :meth:`flushed` when it has flushed."""

    def __init__(self, flush: Callable[[], None], seconds: float, directory: str | None) -> None:
        self._flush = flush
        self.seconds = seconds
        self._directory = directory
        self._ledger: FlushLedger | None = None
        self._pid = 0  # the process the ledger and the SIGTERM hook belong to
        self._closing = False

    def start(self) -> None:
        """Something was recorded: flush it in ``seconds`` (at once once SIGTERM came)."""
        if self._closing and self._pid == os.getpid():
            self._flush()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a script): nothing to coalesce with
            self._flush()
            return
        if self._pid != os.getpid():  # this process's first cycle
            self._pid, self._closing = os.getpid(), False
            if self._directory:
                self._ledger = FlushLedger(self._directory, self._pid)
            self._flush_on_sigterm(loop)
        if self._ledger is not None:
            self._ledger.start()
        loop.call_later(self.seconds, self._flush)

    def flushed(self) -> None:
        """The owner flushed everything it recorded."""
        if self._ledger is not None and self._pid == os.getpid():
            self._ledger.flushed()

    def _flush_on_sigterm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Under a server that handles SIGTERM (uvicorn: it finishes the requests under
        way, then ends the process by the signal itself, so atexit never runs): flush when
        the signal comes, and at every record from then on."""
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous) or threading.current_thread() is not threading.main_thread():
            return  # the default action (no drain: nothing recorded after it), or not ours

        def terminating(signum: int, frame: FrameType | None) -> None:
            self._closing = True
            with contextlib.suppress(RuntimeError):  # the loop is closed already
                loop.call_soon_threadsafe(self._flush)
            previous(signum, frame)

        signal.signal(signal.SIGTERM, terminating)


def flush_timer(flush: Callable[[], None], seconds: float | None) -> FlushTimer | None:
    """The timer a buffer needs: ``seconds``' if given; else ``FLUSH_SECONDS``' in
    multiprocess mode, where another process may answer the scrape; else none (the
    process serving the scrape flushes its buffers first)."""
    directory = os.environ.get(ENV) or None
    if seconds is None:
        if directory is None:
            return None
        seconds = FLUSH_SECONDS
    return FlushTimer(flush, seconds, directory)


def read_state(path: Path) -> tuple[int, int] | None:
    """(started, flushed) of a ledger, read twice alike; None if it is gone or unreadable."""
    try:
        previous = path.read_bytes()
        for _ in range(5):
            current = path.read_bytes()
            if current == previous and len(current) == _STATE.size:
                return _STATE.unpack(current)
            previous = current
    except FileNotFoundError:
        pass
    return None


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def unflushed(directory: str) -> dict[Path, int]:
    """Each live process's ledger with a cycle started but not flushed: the cycle to wait
    for. The ledgers of processes that are gone are deleted."""
    waiting: dict[Path, int] = {}
    for path in Path(directory).glob(f"{_PREFIX}*{_SUFFIX}"):
        pid = path.name[len(_PREFIX) : -len(_SUFFIX)]
        if not pid.isdigit():
            continue
        if not _alive(int(pid)):
            path.unlink(missing_ok=True)
            continue
        state = read_state(path)
        if state is not None and state[0] > state[1]:
            waiting[path] = state[0]
    return waiting


def _still_waiting(waiting: dict[Path, int]) -> dict[Path, int]:
    left = {}
    for path, cycle in waiting.items():
        state = read_state(path)
        if state is None:  # unreadable now: look again while it exists
            if path.exists():
                left[path] = cycle
            continue
        pid = int(path.name[len(_PREFIX) : -len(_SUFFIX)])
        if state[1] < cycle and _alive(pid):
            left[path] = cycle
    return left


def wait_for_flushes(directory: str, timeout: float = SCRAPE_WAIT_SECONDS) -> bool:
    """Block until every cycle started before the call is flushed (True) or ``timeout``
    passed (False). For a thread that may block (the METRICS_PORT server's)."""
    deadline = time.monotonic() + timeout
    waiting = unflushed(directory)
    while waiting:
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
        waiting = _still_waiting(waiting)
    return True


async def flushes_done(directory: str, timeout: float = SCRAPE_WAIT_SECONDS) -> bool:
    """:func:`wait_for_flushes` for an event loop: it goes on serving while this waits."""
    deadline = time.monotonic() + timeout
    waiting = unflushed(directory)
    while waiting:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)
        waiting = _still_waiting(waiting)
    return True
