"""Keeping TensorFlow's and LiteRT's native log noise off the terminal.

Their C++ code writes to file descriptor 2 directly, some of it before ``absl`` reads
``TF_CPP_MIN_LOG_LEVEL`` (``I0000 ... oneDNN custom operations are on``, ``E0000 ...
NodeDef mentions attribute ...``), so no environment variable silences it. While a command
runs, fd 2 is a pipe read by one thread that drops those lines and passes every other line
on unchanged and in order: Python's own messages and real errors still reach the user.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

# absl's format: severity letter, MMDD, time, thread id, file:line] message.
_NATIVE = re.compile(rb"^[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] ")
_BENIGN_ERRORS = (b"NodeDef mentions attribute",)
_NOISE_PREFIXES = (
    b"WARNING: All log messages before absl::InitializeLog() is called",
    b"INFO: Created TensorFlow Lite XNNPACK delegate",
    b"fully_quantize: ",  # the int8 quantizer's settings, printed by its C++ code
)


def is_noise(line: bytes) -> bool:
    """True for a native info/warning line, a known-benign native error, or absl's preamble."""
    if line.startswith(_NOISE_PREFIXES):
        return True
    if not _NATIVE.match(line):
        return False
    return not line.startswith(b"E") or any(text in line for text in _BENIGN_ERRORS)


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Filter fd 2 through :func:`is_noise` until the block ends."""
    try:
        saved = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:
        yield
        return
    os.dup2(write_end, 2)
    os.close(write_end)
    forwarder = threading.Thread(target=_forward, args=(read_end, saved), daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the forwarder sees EOF
        forwarder.join(timeout=5)
        os.close(saved)


def _forward(read_end: int, target: int) -> None:
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not is_noise(line):
                    os.write(target, line + b"\n")
        if pending and not is_noise(pending):
            os.write(target, pending)
