"""Where each read from a connection lands: the rest of a body the App streams (the
``STREAM`` scope extension, :func:`function.web.body.read_buffer`) straight in its
:class:`function.web.body_sink.BodySink`'s buffer; everything else (request lines,
headers, small bodies, a body's first bytes) in one read buffer of the worker's, from which
the HTTP parser reads it.

uvloop hands a plain protocol every read as a new bytes object, the parser copies a body's
part of it into another (its ``on_body``), and the sink copied that into its buffer: three
copies in user space of every byte of an 800 KB V2 binary tensor, before LiteRT's own. A
``BufferedProtocol`` names the memory each read goes to instead, so the kernel writes a
streamed body where LiteRT reads it. uvloop reads through ``get_buffer`` only for a
protocol that is not an ``asyncio.Protocol`` — and uvicorn's protocol is one, so
:class:`BufferedReads` stands in front of it (:func:`buffered`).

Once a body streams into its sink, its remaining bytes bypass the parser, which would
still wait for them: :meth:`DirectBody.wrote` says when the last one came, and the
connection then gives that request's message-complete and a fresh parser for the next
request (:mod:`function.web.connections`). A read never goes past the body's end, so a
pipelined request after it reaches the new parser whole.

What the parser does see of a streamed body (the bytes that came with its headers, and
what the loop reads before uvicorn pauses at 64 KB and the App asks for the body) is
copied as before; the read buffer's size, ``READ_BYTES``, bounds it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from function.web.body import Stream
from function.web.body_sink import BodySink
from function.web.errors import ClientDisconnectedError

if TYPE_CHECKING:
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    from function.web.server_options import ConnectionLimits

READ_BYTES = 256 * 1024  # as uvloop's own read buffer
_shared: list[memoryview] = []


class StreamingConnection(Protocol):
    """The connection's side of a streamed body (:mod:`function.web.connections`)."""

    loop: asyncio.AbstractEventLoop
    limits: ConnectionLimits
    cycle: RequestResponseCycle | None

    def read_past_parser(self, direct: DirectBody) -> None: ...


def stream_extension(connection: StreamingConnection, cycle: RequestResponseCycle) -> Stream:
    """The STREAM scope extension of ``cycle``'s request on ``connection``. Weak references:
    the scope is the cycle's, so a strong one would make every request a reference cycle,
    freed only by the garbage collector."""
    return partial(_stream_into, weakref.ref(connection), weakref.ref(cycle))


def _stream_into(
    connection_ref: weakref.ref, cycle_ref: weakref.ref, size: int, first: bytes, aligned_at: int
) -> BodySink:
    """The rest of the request's body (``size`` bytes in all, ``first`` already read) into
    one buffer: what arrived since ``first`` at once, then the rest past the parser."""
    connection, cycle = connection_ref(), cycle_ref()
    if connection is None or cycle is None:  # the connection is gone
        raise ClientDisconnectedError("the client disconnected")
    timeout = connection.limits.body_timeout_seconds
    sink = BodySink(size, first, connection.loop, timeout, aligned_at)
    if cycle.body:
        sink.write(cycle.body)
        cycle.body = bytearray()
    if connection.cycle is cycle and cycle.more_body and not cycle.disconnected:
        connection.read_past_parser(DirectBody(sink))
    elif cycle.disconnected:
        sink.fail(ClientDisconnectedError("the client disconnected"))
    else:
        sink.finish()  # complete already (a pipelined request followed it)
    return sink


def worker_read_buffer() -> memoryview:
    """The worker's buffer for every read that is not a streamed body's (made at the first
    read). One serves every connection: each read's bytes are fed to its parser (which
    copies what it keeps) before the event loop makes the next read."""
    if not _shared:
        _shared.append(memoryview(bytearray(READ_BYTES)))
    return _shared[0]


class DirectBody:
    """The rest of one body, read straight into its sink's buffer."""

    __slots__ = ("_left", "_sink")

    def __init__(self, sink: BodySink) -> None:
        self._sink: BodySink | None = sink
        self._left = sink.missing

    def into(self) -> memoryview:
        """Where the next read goes: the next ``READ_BYTES`` of the sink still to be filled,
        or (a sink failed or given up: the rest is dropped, and its buffer let go) the
        worker's read buffer; never past the body's end."""
        rest = None if self._sink is None else self._sink.rest(READ_BYTES)
        if rest is not None:
            return rest
        self._sink = None
        return worker_read_buffer()[: min(self._left, READ_BYTES)]

    def wrote(self, nbytes: int) -> bool:
        """``nbytes`` more of the body were read into :meth:`into`; True when that was its
        last byte (the sink is then complete, and its reader goes on)."""
        self._left -= nbytes
        sink = self._sink
        if sink is not None:
            sink.wrote(nbytes)
            if not self._left:
                sink.finish()
        return not self._left

    def fail(self, exc: Exception) -> None:
        """The body cannot complete (the client left): its reader gets ``exc``."""
        if self._sink is not None:
            self._sink.fail(exc)


class ReadingProtocol(Protocol):
    """The HTTP protocol's side of :class:`BufferedReads`."""

    def read_into(self, sizehint: int = -1) -> memoryview: ...

    def bytes_read(self, nbytes: int) -> None: ...

    def connection_made(self, transport: Any) -> None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...

    def eof_received(self) -> bool | None: ...

    def pause_writing(self) -> None: ...

    def resume_writing(self) -> None: ...


class BufferedReads(asyncio.BufferedProtocol):
    """The transport's protocol: every read into the buffer the HTTP protocol names."""

    def __init__(self, http: ReadingProtocol) -> None:
        self.http = http
        # The transport looks these two up once, when the connection is made: the HTTP
        # protocol's own methods, with no call of this object's in between on every read.
        self.get_buffer = http.read_into  # type: ignore[method-assign]
        self.buffer_updated = http.bytes_read  # type: ignore[method-assign]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.http.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.http.connection_lost(exc)

    def eof_received(self) -> bool | None:
        return self.http.eof_received()

    def pause_writing(self) -> None:
        self.http.pause_writing()

    def resume_writing(self) -> None:
        self.http.resume_writing()


def buffered(http: Callable[..., ReadingProtocol]) -> Callable[..., BufferedReads]:
    """uvicorn's protocol factory (its ``http`` option) for the HTTP protocol ``http``."""

    def protocol(**kwargs: Any) -> BufferedReads:
        return BufferedReads(http(**kwargs))

    return protocol
