"""The rest of a streamed body is read straight into its sink's buffer, past the parser
(function.web.reads): the server's protocol driven in-process as uvloop drives a
BufferedProtocol (``get_buffer``, then ``buffer_updated`` with what the read wrote there),
through a transport that records what it is sent."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from client.v2 import binary_request, read_outputs
from function.contract.spec import SPEC
from function.web.body_sink import ALIGNMENT, BodySink
from function.web.connections import protocol_class
from function.web.entry import Entry
from function.web.reads import READ_BYTES, BufferedReads, DirectBody, worker_read_buffer
from function.web.server_options import ConnectionLimits
from tests.function.raw_http import read_answer
from tests.protocols.fake import FakeModel, images, probabilities
from tests.protocols.test_connection_garbage import Transport

INFER = "/v2/models/mnist/infer"
FIRST = 1000  # body bytes in the read that brings the head


class SeeingModel(FakeModel):
    """A FakeModel that also keeps each batch it was handed as it was handed (not a copy)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[np.ndarray] = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.seen.append(batch)
        return super().predict(batch)


@pytest.fixture
def model() -> SeeingModel:
    return SeeingModel()


def v2_request(batch: np.ndarray) -> tuple[bytes, bytes]:
    """The head and the body of a V2 binary request; its JSON header is padded (blanks
    before its last ``}``) to 1 byte over a multiple of 16, so the tensor after it is not
    even 4-byte aligned in a buffer that is not shifted for it."""
    body, headers = binary_request(batch, outputs=[{"name": SPEC.output.name}])
    split = int(headers["Inference-Header-Content-Length"])
    padded = split + (1 - split) % 16
    body = body[: split - 1] + b" " * (padded - split) + body[split - 1 :]
    headers["Inference-Header-Content-Length"] = str(padded)
    lines = [f"POST {INFER} HTTP/1.1", "Host: t", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return "\r\n".join([*lines, "", ""]).encode("latin-1"), body


def read(protocol: BufferedReads, data: bytes) -> list[int]:
    """``data`` as the kernel reads it when it has all arrived: each read fills the buffer
    the protocol names, as far as the data goes; the sizes of those buffers."""
    sizes = []
    while data:
        buffer = protocol.get_buffer(-1)
        n = min(len(buffer), len(data))
        buffer[:n] = data[:n]
        sizes.append(len(buffer))
        protocol.buffer_updated(n)
        data = data[n:]
    return sizes


async def settle() -> None:
    for _ in range(50):  # the request's task runs; its answer is written
        await asyncio.sleep(0)


def test_a_streamed_tensor_is_read_where_the_model_reads_it(app, settings, model) -> None:
    batch = images(8, seed=5)
    head, body = v2_request(batch)
    after = b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n"
    entry = Entry(app, settings.body_timeout_seconds)
    cls = protocol_class(ConnectionLimits.from_settings(settings), entry)

    async def scenario() -> tuple[Transport, memoryview, list[int]]:
        config = Config(app=entry, http=cls, ws="none", log_config=None)
        config.load()
        http = cls(config=config, server_state=ServerState(), app_state={})
        protocol = BufferedReads(http)
        transport = Transport()
        protocol.connection_made(transport)
        assert read(protocol, head + body[:FIRST]) == [READ_BYTES]
        await settle()  # the App asks for the body: its rest goes to the sink
        into = protocol.get_buffer(-1)
        sizes = read(protocol, body[FIRST:] + after)  # the next request right behind it
        await settle()
        protocol.connection_lost(None)
        return transport, into, sizes

    transport, into, sizes = asyncio.run(asyncio.wait_for(scenario(), 30))
    rest = len(body) - FIRST
    assert len(into) == rest  # the rest of the body, and not a byte more
    assert sizes == [rest, READ_BYTES]  # the request after it went to the parser whole
    sink = np.frombuffer(into, np.uint8)
    assert not np.shares_memory(sink, np.frombuffer(worker_read_buffer(), np.uint8))
    (tensor,) = model.seen
    assert np.shares_memory(tensor, sink)  # no copy between the read and the model
    assert tensor.ctypes.data % ALIGNMENT == 0
    sent = io.BytesIO(bytes(transport.sent))
    first, second = read_answer(sent), read_answer(sent)
    assert first.status == second.status == 200, transport.sent[:300]
    outputs = read_outputs(first.body, first.headers)
    np.testing.assert_allclose(outputs[SPEC.output.name], probabilities(batch), atol=1e-6)
    assert second.body  # the health answer's JSON
    assert sent.read() == b""  # nothing else was sent


def test_direct_reads_fill_the_sink_and_finish_it() -> None:
    data = bytes(range(256)) * 20

    async def scenario() -> tuple[bool, bytes]:
        sink = BodySink(len(data), data[:100], asyncio.get_running_loop(), 5.0)
        direct = DirectBody(sink)
        done = False
        while not done:
            into = direct.into()
            n = min(len(into), 700)
            into[:n] = data[len(data) - sink.missing :][:n]
            done = direct.wrote(n)
        await sink.done
        return sink.done.done(), sink.buffer.tobytes()

    finished, buffer = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert finished and buffer == data


def test_a_body_given_up_is_read_to_its_end_and_dropped() -> None:
    size = READ_BYTES + 5000

    async def scenario() -> list[int]:
        sink = BodySink(size, b"x" * 10, asyncio.get_running_loop(), 5.0)
        direct = DirectBody(sink)
        sink.fail(ValueError("the reader gave up"))
        sizes = []
        left = size - 10
        while left:
            into = direct.into()
            assert not np.shares_memory(np.frombuffer(into, np.uint8), sink.buffer)
            sizes.append(len(into))
            left -= len(into)
            if direct.wrote(len(into)):
                break
        assert left == 0
        with pytest.raises(ValueError, match="gave up"):
            await sink.done
        return sizes

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == [READ_BYTES, size - 10 - READ_BYTES]
