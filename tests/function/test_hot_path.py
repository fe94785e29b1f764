"""The one-digit request's shortcuts keep their answers: the response head held for its
body, a body that has arrived read without a deadline timer, each thread's kept simdjson
parser, the pooled nonces, the one-pass pixel check. In-process; the speed they buy is
measured by ``make bench``, not here."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import simdjson

from function.inputs import fastjson
from function.inputs.decoding import ImageDecoder
from function.inputs.errors import InvalidInputError
from function.inputs.tensors import unit_pixels
from function.protocols.prediction_ids import NoncePool
from function.web import body as body_module
from function.web.errors import BodyTimeoutError
from function.web.head_writer import JOIN_BYTES, HeadHeldWriter

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


class FakeCycle:
    response_started = False


def writer_for_a_request() -> tuple[HeadHeldWriter, FakeTransport, FakeCycle]:
    transport, cycle = FakeTransport(), FakeCycle()
    writer = HeadHeldWriter(transport)  # type: ignore[arg-type]
    writer.expect_head(cycle)
    return writer, transport, cycle


def test_the_head_leaves_with_a_small_body_in_one_write():
    writer, transport, cycle = writer_for_a_request()
    cycle.response_started = True
    writer.write(HEAD)
    assert transport.writes == []
    writer.write(b"{}")
    assert transport.writes == [HEAD + b"{}"]
    writer.write(b"more")  # only the head is ever held
    assert transport.writes[-1] == b"more"


def test_a_large_body_follows_the_head_in_its_own_write():
    writer, transport, cycle = writer_for_a_request()
    cycle.response_started = True
    large = b"x" * (JOIN_BYTES + 1)
    writer.write(HEAD)
    writer.write(large)
    assert transport.writes == [HEAD, large]


def test_a_head_without_a_body_write_leaves_at_flush_or_close():
    writer, transport, cycle = writer_for_a_request()
    cycle.response_started = True
    writer.write(HEAD)
    writer.flush()  # the connection flushes at the end of every response (HEAD answers)
    assert transport.writes == [HEAD]
    writer, transport, cycle = writer_for_a_request()
    cycle.response_started = True
    writer.write(HEAD)
    writer.close()
    assert transport.writes == [HEAD] and transport.closed


def test_100_continue_is_written_at_once():
    writer, transport, cycle = writer_for_a_request()
    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # before the answer starts
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    cycle.response_started = True
    writer.write(HEAD)
    writer.write(b"{}")
    assert transport.writes[-1] == HEAD + b"{}"


def test_a_new_request_flushes_a_head_still_held():
    writer, transport, cycle = writer_for_a_request()
    cycle.response_started = True
    writer.write(HEAD)
    writer.expect_head(FakeCycle())
    assert transport.writes == [HEAD]


class Cycle:
    """What receive_within sees of uvicorn's request cycle: ``receive`` bound to it."""

    def __init__(self) -> None:
        self.message_event = asyncio.Event()

    async def receive(self) -> dict:
        await self.message_event.wait()
        return {"type": "http.request", "body": b"{}", "more_body": False}


def test_an_arrived_body_is_read_without_a_deadline(monkeypatch):
    def no_timer(seconds: float) -> None:
        raise AssertionError("a deadline was armed for a message already there")

    async def scenario() -> dict:
        cycle = Cycle()
        cycle.message_event.set()
        monkeypatch.setattr(body_module.asyncio, "timeout", no_timer)
        return await body_module.receive_within(cycle.receive, 0.05)()

    assert asyncio.run(scenario())["body"] == b"{}"


def test_a_body_still_to_come_keeps_its_deadline():
    async def scenario() -> None:
        await body_module.receive_within(Cycle().receive, 0.05)()

    with pytest.raises(BodyTimeoutError):
        asyncio.run(scenario())


def test_the_kept_parser_never_spoils_a_document_still_read():
    first = fastjson.parse(b'{"a": [1, 2, 3]}')
    second = fastjson.parse(b'{"a": [4]}')  # the kept parser refuses: a new one reads it
    assert list(first["a"]) == [1, 2, 3] and list(second["a"]) == [4]
    del first, second
    assert list(fastjson.parse(b"[5, 6]")) == [5, 6]


def test_the_kept_parser_reads_body_after_body_alike():
    for n in (3, 1, 2):
        body = json.dumps({"images": [[0.25] * 784] * n}).encode()
        pixels, single = fastjson.parse_images(body, 8)
        assert pixels.shape == (n, 784) and not single and (pixels == 0.25).all()


class KeptParser:
    """Stands in for the kept parser: says whether a body was given to it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def parse(self, body: bytes) -> object:
        self.bodies.append(body)
        return simdjson.Parser().parse(body)


def test_a_body_over_the_reuse_size_gets_its_own_parser(monkeypatch):
    kept = KeptParser()
    monkeypatch.setattr(fastjson, "_kept", [kept])
    monkeypatch.setattr(fastjson, "REUSE_BYTES", 10)
    assert list(fastjson.parse(b"[1, 2, 3, 4, 5]")) == [1, 2, 3, 4, 5]
    assert list(fastjson.parse(b"[1, 2]")) == [1, 2]
    assert kept.bodies == [b"[1, 2]"]


def test_threads_share_the_kept_parser_safely():
    def read(n: int) -> bool:
        body = json.dumps({"images": [[n / 100] * 784] * (1 + n % 3)}).encode()
        for _ in range(50):
            pixels, _ = fastjson.parse_images(body, 8)
            if pixels.shape != (1 + n % 3, 784) or not (pixels == n / 100).all():
                return False
        return True

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(read, range(40)))


def test_nonces_differ_and_a_forked_worker_draws_its_own():
    pool = NoncePool(chunk=64)
    nonces = [pool(6) for _ in range(100)]  # over several draws of the pool
    assert len(set(nonces)) == 100 and all(len(n) == 6 for n in nonces)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what it would hand out next
        os.write(write, pool(6))
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 6)
    os.close(read)
    os.close(write)
    assert child != pool(6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pixels_in_range_pass_in_either_float_size(dtype):
    pixels = np.linspace(0, 1, 784, dtype=dtype).reshape(1, 784)
    pixels[0, 3] = -0.0  # -0.0 takes the full check, and passes it
    out = unit_pixels(pixels, "x")
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert np.array_equal(out, pixels.astype(np.float32))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.0000000001, "values must be in 0..1"),  # would round to 1.0 as a float32
        (-1e-300, "values must be in 0..1"),  # would round to -0.0 as a float32
        (float("nan"), "NaN or infinity"),
        (float("inf"), "NaN or infinity"),
    ],
)
def test_float64_pixels_just_outside_the_range_are_refused(value, message):
    pixels = np.full((1, 784), 0.5)
    pixels[0, 7] = value
    with pytest.raises(InvalidInputError, match=message):
        unit_pixels(pixels, "x")


@pytest.mark.parametrize("size", [0, 1, fastjson.COUNT_CHUNK, fastjson.COUNT_CHUNK + 1, 300_000])
def test_brackets_are_counted_like_bytes_count(size):
    rng = np.random.default_rng(size)
    body = rng.choice(np.frombuffer(b"[]0.5, ", np.uint8), size).tobytes()
    assert fastjson.brackets(body) == body.count(b"[")


@pytest.mark.parametrize(
    "body", [b"", b"{}", b'{"image": [1]}', b'{"images": [[1], [2]]}', b"[[[", b"x[", b"[x"]
)
def test_one_digit_bodies_have_their_brackets_counted_too(body):
    assert fastjson._one_or_count(body) == body.count(b"[")
    assert fastjson._one_or_count(np.frombuffer(body, np.uint8)) == body.count(b"[")


def test_json_bodies_are_read_one_at_a_time_off_the_loop():
    """The JSON thread: bodies parse in turn (simdjson holds the GIL anyway), never two at
    once, and not on the event loop's thread."""
    decoder = ImageDecoder(threads=2, max_request_pixels=1)
    active, overlaps, names = [0], [], set()
    lock = threading.Lock()

    def parse(n: int) -> int:
        with lock:
            active[0] += 1
            overlaps.append(active[0])
        names.add(threading.current_thread().name)
        time.sleep(0.01)
        with lock:
            active[0] -= 1
        return n

    async def scenario() -> list[int]:
        return await asyncio.gather(*(decoder.run_serial(parse, n) for n in range(8)))

    assert asyncio.run(scenario()) == list(range(8))
    assert max(overlaps) == 1
    assert len(names) == 1 and names.pop().startswith("digitrun-json")


def test_body_headers_are_read_once_and_the_first_value_wins():
    from starlette.requests import Request

    from function.web.body_headers import BodyHeaders, body_headers

    scope = {
        "type": "http",
        "headers": [
            (b"host", b"x"),
            (b"content-length", b"12"),
            (b"content-type", b"application/json"),
            (b"content-length", b"99"),
        ],
    }
    request = Request(scope)
    found = body_headers(request)
    assert found == BodyHeaders("application/json", "12", None)
    assert found.content_length == request.headers.get("content-length")  # Starlette's
    scope["headers"] = []  # read once: the scope keeps the result
    assert body_headers(Request(scope)) is found
    assert body_headers(Request({"type": "http", "headers": []})) == BodyHeaders("", None, None)
