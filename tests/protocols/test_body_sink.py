"""BodySink: a body of known length written into one buffer as its chunks arrive (what the
server's connections do with a large body), its end, its errors and its one timer."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from function.inputs.errors import InvalidInputError
from function.web.body_sink import ALIGNMENT, BodySink
from function.web.errors import BodyTimeoutError
from tests.function.test_memory import faults_writing

BODY = bytes(range(256)) * 40  # 10,240 bytes


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_chunks_land_in_order_in_one_buffer() -> None:
    async def scenario() -> bytes:
        sink = BodySink(len(BODY), BODY[:1000], asyncio.get_running_loop(), 5.0)
        for start in range(1000, len(BODY), 3000):
            sink.write(BODY[start : start + 3000])
        sink.finish()
        await sink.done
        return sink.buffer.tobytes()

    assert run(scenario()) == BODY


@pytest.mark.parametrize(
    ("extra", "message"), [(b"x", "longer than its Content-Length"), (None, "shorter")]
)
def test_a_body_that_does_not_match_its_length_is_refused(extra, message) -> None:
    async def scenario() -> None:
        sink = BodySink(len(BODY), BODY[:-1], asyncio.get_running_loop(), 5.0)
        if extra is not None:
            sink.write(BODY[-1:] + extra)
        sink.finish()
        await sink.done

    with pytest.raises(InvalidInputError, match=message):
        run(scenario())


def test_nothing_for_the_timeout_is_a_408() -> None:
    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        sink = BodySink(len(BODY), BODY[:10], loop, 0.2)
        started = loop.time()
        with pytest.raises(BodyTimeoutError, match="BODY_TIMEOUT_SECONDS"):
            await sink.done
        sink.write(BODY[10:20])  # what still arrives is dropped, without an error
        sink.finish()
        return loop.time() - started

    assert 0.15 <= run(scenario()) <= 10


def test_the_timeout_counts_from_the_last_chunk() -> None:
    """Chunks every 0.1 s for 1 s in all: a 0.5 s timeout never fires."""

    async def scenario() -> bytes:
        loop = asyncio.get_running_loop()
        sink = BodySink(len(BODY), BODY[:1024], loop, 0.5)
        for start in range(1024, len(BODY), 1024):
            await asyncio.sleep(0.1)
            assert not sink.done.done()
            sink.write(BODY[start : start + 1024])
        sink.finish()
        await sink.done
        return sink.buffer.tobytes()

    assert run(scenario()) == BODY


def test_closing_stops_the_timer_and_drops_later_chunks() -> None:
    async def scenario() -> None:
        sink = BodySink(len(BODY), BODY[:10], asyncio.get_running_loop(), 0.05)
        sink.close()
        sink.write(BODY[10:])
        await asyncio.sleep(0.2)
        assert not sink.done.done()  # no timeout fired after close

    run(scenario())


@pytest.mark.parametrize("aligned_at", [0, 1, 193, 4095])
@pytest.mark.parametrize("size", [10_000, 2 * 1024 * 1024])
def test_the_byte_the_reader_names_starts_an_aligned_block(size, aligned_at) -> None:
    async def scenario() -> BodySink:
        return BodySink(size, b"", asyncio.get_running_loop(), 5.0, aligned_at)

    sink = run(scenario())
    assert len(sink.buffer) == size
    assert (sink.buffer.ctypes.data + aligned_at) % ALIGNMENT == 0


def test_a_large_sinks_next_read_lands_in_pages_faulted_in_at_once() -> None:
    size = 3 * 1024 * 1024  # a fresh mapping
    most = 256 * 1024

    async def scenario() -> tuple[int, int, int]:
        sink = BodySink(size, b"", asyncio.get_running_loop(), 5.0)
        rest = sink.rest(most)
        faults = faults_writing(np.frombuffer(rest, np.uint8))
        sink.wrote(len(rest))
        return len(rest), faults, sink.missing

    length, faults, missing = run(scenario())
    assert length == most  # no further than asked: the pages after it are not touched yet
    assert faults <= 4
    assert missing == size - most
