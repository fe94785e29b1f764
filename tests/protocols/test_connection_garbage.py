"""A request leaves no reference cycle behind on its connection: everything it made is
freed as soon as it is answered, not at the garbage collector's next pass (which, with a
cycle per request, ran every few dozen requests and scanned each request's scope, headers
and cycle). The server's protocol is driven in-process through a transport that records
what it is sent."""

from __future__ import annotations

import asyncio
import gc

from uvicorn.config import Config
from uvicorn.server import ServerState

from function.web.connections import protocol_class
from function.web.entry import Entry
from function.web.server_options import ConnectionLimits

REQUESTS = 30


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.sent = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default
        )

    def write(self, data: bytes) -> None:
        self.sent += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def request(digit_body: bytes) -> bytes:
    return (
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(digit_body)).encode() + b"\r\n\r\n" + digit_body
    )


def garbage_after_requests(app, settings) -> tuple[int, bytes]:
    """(objects the collector found unreachable, what the connection sent) after
    REQUESTS requests on one kept-alive connection, the collector off meanwhile."""
    entry = Entry(app, settings.body_timeout_seconds)
    cls = protocol_class(ConnectionLimits.from_settings(settings), entry)
    body = b'{"image": [' + b",".join([b"0.5"] * 784) + b"]}"

    async def scenario() -> Transport:
        loop = asyncio.get_running_loop()
        config = Config(app=entry, http=cls, ws="none", log_config=None)
        config.load()
        protocol = cls(config=config, server_state=ServerState(), app_state={}, _loop=loop)
        transport = Transport()
        protocol.connection_made(transport)
        for _ in range(REQUESTS):
            protocol.data_received(request(body))
            for _ in range(50):  # the request's task runs; its answer is written
                await asyncio.sleep(0)
        protocol.connection_lost(None)
        return transport

    gc.collect()
    gc.disable()
    try:
        transport = asyncio.run(scenario())
        return gc.collect(), bytes(transport.sent)
    finally:
        gc.enable()


def test_answered_requests_leave_no_cycles(app, settings):
    found, sent = garbage_after_requests(app, settings)
    assert sent.count(b"HTTP/1.1 200 OK") == REQUESTS
    assert found < REQUESTS  # a cycle per request would leave dozens of objects each
