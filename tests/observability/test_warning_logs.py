"""Every line the service logs is JSON (issue 20: "all library warnings routed into the
JSON log"): library warnings (``warnings.warn``), library loggers (python-multipart, Pillow),
the server's own loggers in the worker (gunicorn, uvicorn), uncaught exceptions in threads.
The one exception is gunicorn's master, which logs in plain text before and outside the
service's code (its start-up and shutdown lines): every plain line must carry its pid."""

from __future__ import annotations

import json
import re
import socket
import struct
import subprocess
import sys
import textwrap
import zlib

import requests

from scripts.local_stack import ROOT, child_env

BOUNDARY = "b0undary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
PLAIN = re.compile(r"^\[[^\]]+\] \[(\d+)\] \[[A-Z]+\] ")


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_header_png() -> bytes:
    """A tiny PNG whose header says 10,000 x 10,000 pixels: Pillow's decompression-bomb
    warning (over 89.5 M pixels) is raised when it is opened."""
    header = struct.pack(">IIBBBBB", 10_000, 10_000, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def malformed_requests() -> list[tuple[bytes, dict[str, str]]]:
    """Bodies that make the libraries under /predict warn."""
    part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"\r\n\r\nabc\r\n'
    return [
        (b"\r\n\r\n--" + BOUNDARY.encode() + b"\r\nfoo\r\n\r\n", MULTIPART),  # bad header line
        (b"garbage\r\n" + part.encode(), MULTIPART),  # no boundary where one must be
        (bomb_header_png(), {"Content-Type": "image/png"}),
        (bomb_header_png()[:40], {"Content-Type": "image/png"}),  # truncated
    ]


def raw_requests(port: int) -> None:
    """Requests the HTTP parser refuses (uvicorn logs them, not the service)."""
    for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(raw)
            conn.recv(1024)


def test_every_line_of_the_worker_is_json(start_server) -> None:
    server = start_server(GUNICORN_LOG_LEVEL="info", LOG_LEVEL="INFO")
    master = server.process.pid
    with requests.Session() as session:
        for body, headers in malformed_requests():
            answer = session.post(f"{server.url}/predict", data=body, headers=headers, timeout=10)
            assert 400 <= answer.status_code < 500, answer.text[:200]
    raw_requests(server.port)
    assert server.stop() == 0
    entries, plain = [], []
    for line in server.log().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
        else:
            plain.append(line)
    for line in plain:  # gunicorn's master, and nothing else
        match = PLAIN.match(line)
        assert match and int(match.group(1)) == master, f"a plain-text line: {line!r}"
    loggers = {entry.get("logger") for entry in entries}
    assert {"gunicorn.error", "uvicorn.error", "python_multipart.multipart"} <= loggers, loggers
    multipart = [e for e in entries if e.get("logger") == "python_multipart.multipart"]
    assert all(e["severity"] == "WARNING" and e["message"] for e in multipart), multipart


SCRIPT = """
    import gc, logging, os, sys, threading, warnings
    from function.observability import logs

    # as gunicorn does in its master: its own plain-text handler, shared by uvicorn's logger
    plain = logging.StreamHandler(sys.stderr)
    plain.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] %(message)s"))
    logging.getLogger("gunicorn.error").addHandler(plain)
    logging.getLogger("gunicorn.error").propagate = False
    logging.getLogger("uvicorn.error").handlers = logging.getLogger("gunicorn.error").handlers
    logging.getLogger("uvicorn.error").propagate = False

    logs.configure("INFO")
    warnings.warn("a library warning")
    logging.getLogger("PIL.PngImagePlugin").warning("a library's own logger")
    logging.getLogger("python_multipart.multipart").info("below WARNING: not shown")

    class Leaky:
        def __del__(self):
            raise RuntimeError("raised in __del__")

    pid = os.fork()
    if pid == 0:
        logging.getLogger("gunicorn.error").error("a line of the worker")
        logging.getLogger("uvicorn.error").warning("uvicorn in the worker")
        thread = threading.Thread(target=lambda: 1 / 0, name="decoder")
        thread.start()
        thread.join()
        Leaky()
        gc.collect()
        sys.stderr.flush()
        os._exit(0)
    os.waitpid(pid, 0)
"""


def test_warnings_library_loggers_and_thread_errors_are_json() -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT)],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    by_logger = {entry.get("logger"): entry for entry in entries}
    assert "a library warning" in by_logger["py.warnings"]["message"]
    assert by_logger["py.warnings"]["severity"] == "WARNING"
    assert by_logger["PIL.PngImagePlugin"]["message"] == "a library's own logger"
    assert by_logger["gunicorn.error"]["message"] == "a line of the worker"
    assert by_logger["uvicorn.error"]["message"] == "uvicorn in the worker"
    errors = [entry for entry in entries if "logger" not in entry]  # the service's own
    assert len(errors) == 2, errors
    assert "uncaught exception in thread decoder" in errors[0]["message"]
    assert "ZeroDivisionError" in errors[0]["stack_trace"]
    assert "RuntimeError: raised in __del__" in errors[1]["stack_trace"]
    assert all(entry["severity"] == "ERROR" for entry in errors)
    assert "below WARNING" not in done.stderr
