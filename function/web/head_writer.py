"""One ``send()`` per answer: the response head uvicorn writes is held until its body.

uvicorn's request cycle writes an answer in two calls of ``transport.write``: the status
line and headers when the app sends ``http.response.start``, then the body. Each one is a
``send()`` system call, and with ``TCP_NODELAY`` its own packet: for a one-digit answer
the second call was ~5% of the worker's CPU. The connection (:mod:`function.web.connections`)
gives each request's cycle a :class:`HeadHeldWriter` instead of the transport: the head is
held and sent with the first body write (one call, one packet when the body is small), or
on its own at the next write, ``close`` or the end of the response (a HEAD answer has no
body write). The ``100 Continue`` uvicorn may write before the answer is never held.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

# A body up to this size is joined to the head (one copy of a small body is far cheaper
# than a system call); a larger one follows the head in its own write.
JOIN_BYTES = 64 * 1024


class Cycle(Protocol):
    """What the writer reads of uvicorn's request cycle."""

    response_started: bool


class HeadHeldWriter:
    """The transport as one connection's request cycles see it (``write``, ``close``,
    ``is_closing``: what uvicorn's cycle calls)."""

    __slots__ = ("_cycle", "_head", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._cycle: Cycle | None = None  # the cycle whose head is still to be written
        self._head: bytes | None = None

    def expect_head(self, cycle: Cycle) -> None:
        """``cycle`` is the connection's new request: hold its response head."""
        self.flush()
        self._cycle = cycle

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if len(data) <= JOIN_BYTES:
                self.transport.write(head + data)
                return
            self.transport.write(head)
        elif self._cycle is not None and self._cycle.response_started:
            self._cycle = None  # the head of the cycle's answer: wait for its body
            self._head = data
            return
        self.transport.write(data)

    def flush(self) -> None:
        """Write a held head now (the answer ended without a body write)."""
        head = self._head
        if head is not None:
            self._head = None
            self.transport.write(head)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()
