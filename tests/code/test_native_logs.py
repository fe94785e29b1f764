"""TensorFlow's and LiteRT's native log noise is dropped from the CLI's stderr; everything
else passes unchanged and in order."""

from __future__ import annotations

import subprocess
import sys

import pytest

from model.native_logs import is_noise
from scripts.local_stack import ROOT

NOISE = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"I0000 00:00:1795909694.230444   18517 port.cc:153] oneDNN custom operations are on.",
    b"W1128 23:48:33.123456   18517 cpu_feature_guard.cc:210] This TensorFlow binary is ...",
    b"E0000 00:00:1795909699.001829   18517 node_def_util.cc:682] NodeDef mentions attribute x",
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]
KEPT = [
    b"E0000 00:00:1795909699.001829   18517 op_kernel.cc:1] OOM when allocating tensor",
    b"error: MNIST file not found: /nope.npz",
    b"Epoch 1/10",
    b"",
]


@pytest.mark.parametrize("line", NOISE)
def test_noise_is_recognised(line):
    assert is_noise(line)


@pytest.mark.parametrize("line", KEPT)
def test_everything_else_is_kept(line):
    assert not is_noise(line)


def test_the_filter_works_on_the_file_descriptor():
    """Native code writes to fd 2 directly: the filter sits there, order preserved."""
    script = """
import os, sys
from model.native_logs import quiet_native_logs
with quiet_native_logs():
    os.write(2, b"I0000 00:00:1.5   1 port.cc:153] noise\\n")
    print("python line", file=sys.stderr)
    os.write(2, b"native kept\\n")
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called\\n")
    os.write(2, b"no newline at the end")
print("after", file=sys.stderr)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=30, check=True
    )
    assert result.stderr == b"python line\nnative kept\nno newline at the endafter\n"
