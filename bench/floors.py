"""The floors under a request's own work, measured without HTTP on the server's core: the
kernel receiving the body over loopback (a plain socket, the sender on the load core), and
simdjson parsing a JSON body (the service's kept parser, ``function.inputs.fastjson.parse``).
No server of the body can spend less than their sum on it with simdjson as its parser: set
beside what a ratio target allows the service's own work, they tell a target out of reach
from one the code still misses.

This module is the probe :func:`bench.scenarios.floors_alone` runs in the serving
environment on the server's core: ``python -m bench.floors SECONDS SENDER_CPU receive:BODY
parse:BODY ...`` prints one figure per argument, in their order: µs per body.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

RECEIVE, PARSE = "receive", "parse"
ACK = b"k"
SENDER = """
import socket, sys
body = open(sys.argv[2], "rb").read()
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as s:
    try:
        while True:
            s.sendall(body)
            if not s.recv(1):
                break
    except OSError:
        pass
"""


def receive_us(body: Path, seconds: float, sender_cpu: str) -> float:
    """CPU µs this process spends receiving ``body`` into one buffer (``recv_into``, as the
    service's direct reads do), the sender pinned to ``sender_cpu`` waiting for an ack."""
    size = body.stat().st_size
    buffer = memoryview(bytearray(size))
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        argv = ["taskset", "-c", sender_cpu, sys.executable, "-c", SENDER, str(port), str(body)]
        sender = subprocess.Popen(argv)
        try:
            connection, _ = server.accept()
            with connection:
                bodies, cpu, start = 0, 0.0, time.perf_counter()
                while time.perf_counter() - start < seconds:
                    begun, got = time.process_time(), 0
                    while got < size:
                        got += connection.recv_into(buffer[got:], size - got)
                    cpu += time.process_time() - begun
                    connection.sendall(ACK)
                    bodies += 1
        finally:
            sender.kill()
            sender.wait()
    return cpu / bodies * 1e6


def parse_us(body: Path, seconds: float) -> float:
    """µs per simdjson parse of ``body`` by the service's kept parser."""
    from function.inputs.fastjson import parse  # noqa: PLC0415 (the serving environment)

    data = body.read_bytes()
    parse(data)
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        parse(data)  # the document dies at once: the kept parser is free again
        calls += 1
    return elapsed / calls * 1e6


def main(argv: list[str]) -> int:
    seconds, sender_cpu, *floors = argv
    for floor in floors:
        what, _, path = floor.partition(":")
        if what == RECEIVE:
            us = receive_us(Path(path), float(seconds), sender_cpu)
        else:
            us = parse_us(Path(path), float(seconds))
        print(f"{us:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
