"""The server's HTTP/1.1 connections: uvicorn's httptools protocol with the limits a public
server needs, every request handed to the service's :class:`function.web.entry.Entry`.

uvicorn alone holds a connection that never sends a request for ever, reads any number and
size of headers, keeps a connection whose answered request's body trickles in, and answers
what httptools cannot parse in plain text. Here, per connection:

* its first request's line and headers must all arrive within ``HEADER_TIMEOUT_SECONDS`` of
  the connection (a later request's, of its first byte): else 408 and close — or a plain
  close when not one byte of a request came (a browser's preconnected socket);
* at most ``MAX_HEADERS`` header fields, and ``MAX_HEADER_BYTES`` for the request target and
  the header names and values together: else 431 (414 when the target alone is over) and
  close, before the rest is read;
* at most ``MAX_CONNECTIONS`` open connections per worker: the next one is answered 503
  (``Retry-After: 1``) and closed at once, so file descriptors cannot run out;
* a body still arriving after its request was answered (a 404 before it was read) must
  keep coming (``BODY_TIMEOUT_SECONDS`` between chunks), and once it is complete the
  connection gets its keep-alive timeout again (uvicorn loses it on that path);
* what httptools cannot parse is a JSON 400 (501 for a method it does not know); a
  ``CONNECT`` or ``Upgrade`` request is answered as plain HTTP and the connection closed.

Each answer leaves in one write (:mod:`function.web.head_writer`). The rest of a body with a
``Content-Length`` the App streams (a scope extension) is read by the kernel straight into
one buffer (:mod:`function.web.reads`), past the parser. A body's deadline while the App
reads it is :func:`function.web.body.receive_within` (the sink's timer); idle keep-alive
connections are closed after gunicorn's ``keepalive`` (2 s). Every answer written here is
:meth:`Entry.refusal`'s JSON.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from function.errors import DigitrunError
from function.observability import logs
from function.web.body import STREAM
from function.web.entry import Entry
from function.web.errors import (
    ClientDisconnectedError,
    HeadersTooLargeError,
    HeaderTimeoutError,
    MalformedRequestError,
    MethodNotImplementedError,
    TargetTooLongError,
    TooManyConnectionsError,
    clip,
)
from function.web.head_writer import HeadHeldWriter
from function.web.reads import DirectBody, stream_extension, worker_read_buffer

if TYPE_CHECKING:
    from function.web.server_options import ConnectionLimits

log = logging.getLogger(logs.LOGGER_NAME)

# After a refusal, how long the rest of the request is still read and dropped before the
# connection is closed (the client closing first ends it sooner). Lingering connections
# count towards MAX_CONNECTIONS.
LINGER_SECONDS = 1.0


class _RefusedError(Exception):
    """Raised from a parser callback to stop parsing a request already refused."""


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above; :func:`protocol_class` binds
    ``limits`` and ``entry``."""

    limits: ConnectionLimits
    entry: Entry

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = self.entry  # every request to the service, not functions-framework's app
        self.url = b""
        self._timer: asyncio.TimerHandle | None = None
        self._started = False  # a byte of a request arrived
        self._in_body = False  # the last request's headers are in, its body is not complete
        self._headers = 0
        self._header_bytes = 0
        self._refused = False
        self._direct: DirectBody | None = None  # a streamed body's rest, read past the parser
        self._reads = worker_read_buffer()  # every other read's
        self._writer: HeadHeldWriter | None = None  # each cycle's transport: one write an answer

    # The connection
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._writer = HeadHeldWriter(transport)
        if len(self.connections) > self.limits.max_connections:
            limit = self.limits.max_connections
            exc = TooManyConnectionsError(f"over {limit} connections (MAX_CONNECTIONS)")
            self._refuse(exc, linger=False)  # no fd is held for a connection over the cap
            return
        self._arm(self.limits.header_timeout_seconds, self._on_header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._direct is not None:
            self._direct.fail(ClientDisconnectedError("the client disconnected"))
            self._direct = None
        super().connection_lost(exc)

    def read_past_parser(self, direct: DirectBody) -> None:
        """The rest of the current body goes to ``direct`` (the parser has had every byte so
        far), read as fast as it comes."""
        self._direct = direct
        self.flow.resume_reading()

    def read_into(self, sizehint: int = -1) -> memoryview:
        """Where the next read goes (:class:`function.web.reads.BufferedReads`)."""
        direct = self._direct
        return self._reads if direct is None else direct.into()

    def bytes_read(self, nbytes: int) -> None:
        direct = self._direct
        if direct is None:
            self.data_received(self._reads[:nbytes])
        elif direct.wrote(nbytes):  # the body's last byte: the parser still waits for it
            self._direct = None
            self.parser = httptools.HttpRequestParser(self)
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)  # as uvicorn
            self.on_message_complete()  # after the sink's end: its reader runs on
        elif self._answered() and not self._refused:
            self._arm(self.limits.body_timeout_seconds, self._close)

    def data_received(self, data: bytes | memoryview) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # answered as plain HTTP; on_headers_complete made it the last request
        except httptools.HttpParserInvalidMethodError:
            self._refuse(MethodNotImplementedError("the request method is unknown to this server"))
        except httptools.HttpParserCallbackError as exc:
            if not self._refused:  # else one of ours refused the request and stopped parsing
                self._refuse(exc)  # uvicorn's own callback failed: a 500 that says nothing
        except httptools.HttpParserError as exc:
            self._refuse(MalformedRequestError(f"the request is not valid HTTP/1.1: {exc}"))
        if self._in_body and self._answered() and not self._refused:
            self._arm(self.limits.body_timeout_seconds, self._close)

    def on_response_complete(self) -> None:
        if self._writer is not None:
            self._writer.flush()  # a HEAD answer's head: no body write follows it
        super().on_response_complete()
        if self._in_body and self._answered() and not self.transport.is_closing():
            # Answered before its body was read: the rest must keep coming (data_received
            # re-arms), then the keep-alive timeout applies (on_message_complete).
            self._unset_keepalive_if_required()
            self._arm(self.limits.body_timeout_seconds, self._close)

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._unset_keepalive_if_required()  # armed when the previous body completed
        self._started = True
        self._headers = self._header_bytes = 0
        if self._timer is None:  # a later request on a kept-alive connection
            self._arm(self.limits.header_timeout_seconds, self._on_header_timeout)

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        if self._header_bytes > self.limits.max_header_bytes:
            limit = self.limits.max_header_bytes
            self._stop(
                TargetTooLongError(f"the request target is over {limit} bytes (MAX_HEADER_BYTES)")
            )
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers += 1
        self._header_bytes += len(name) + len(value)
        if self._headers > self.limits.max_headers:
            count = self.limits.max_headers
            self._stop(HeadersTooLargeError(f"more than {count} header fields (MAX_HEADERS)"))
        if self._header_bytes > self.limits.max_header_bytes:
            self._stop(
                HeadersTooLargeError(
                    f"the request target and headers are over {self.limits.max_header_bytes} "
                    "bytes (MAX_HEADER_BYTES)"
                )
            )
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        try:
            super().on_headers_complete()
        except httptools.HttpParserInvalidURLError:
            target = clip(self.url.decode("latin-1"))
            self._stop(MalformedRequestError(f"the request target {target} is not a path"))
        self._in_body = True
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:  # this request's own cycle
            self.scope["extensions"] = {STREAM: stream_extension(self, cycle)}
            if self._writer is not None:
                cycle.transport = self._writer  # type: ignore[assignment]
                self._writer.expect_head(cycle)
        if self.parser.should_upgrade() and cycle is not None:
            cycle.keep_alive = False  # this server upgrades to nothing: the last request

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_body = False
        if self._answered() and self._timer is not None:
            self._disarm()  # the answered request's body is complete: idle again
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    # Helpers
    def _answered(self) -> bool:
        return self.cycle is not None and self.cycle.response_complete

    def _on_header_timeout(self) -> None:
        self._timer = None
        seconds = self.limits.header_timeout_seconds
        message = f"the request line and headers did not arrive within {seconds:g} s"
        exc = HeaderTimeoutError(f"{message} (HEADER_TIMEOUT_SECONDS)")
        self._refuse(exc, quiet=not self._started)  # no request began: just close

    def _stop(self, exc: DigitrunError) -> None:
        self._refuse(exc)
        raise _RefusedError

    def _refuse(self, exc: Exception, quiet: bool = False, linger: bool = True) -> None:
        """Answer ``exc`` and close; when a previous request's answer is still being written,
        that answer closes the connection instead (nothing may interleave with it).

        With ``linger``, the answer is followed by a FIN and what the client still sends is
        read and dropped for ``LINGER_SECONDS`` (or until it closes): closing with its data
        unread would reset the connection, and the client could lose the answer."""
        self._refused = True
        self._disarm()
        reason = getattr(exc, "reason", DigitrunError.reason)
        log.info("connection refused: %s", exc, extra={"fields": {"reason": reason}})
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            return
        transport = self.transport
        if quiet or transport.is_closing():
            transport.close()
            return
        transport.write(self.entry.refusal(exc, self.url, self.server_state.default_headers))
        if not linger or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self.flow.resume_reading()
        self._arm(LINGER_SECONDS, self._close)

    def _close(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def protocol_class(limits: ConnectionLimits, entry: Entry) -> type[LimitedHttpProtocol]:
    """The protocol class the uvicorn workers use (its ``http`` option), bound to ``limits``
    and ``entry``."""
    return type("ServiceHttpProtocol", (LimitedHttpProtocol,), {"limits": limits, "entry": entry})
