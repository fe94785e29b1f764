"""The served model: fetched and verified once at start-up, one interpreter per process.

:func:`load_model` downloads the manifest of the version ``MODEL_URI`` names and the one
file it serves, checks that file against the manifest (``model evaluate`` checks every
file), opens it (``runtime.file``: ``model.tflite``, or its
int8 quantization; both take and give the same float32 tensors) and runs one warm-up
prediction: only then is the model *ready*. Storage that cannot be reached is tried again
``STORAGE_RETRIES`` times with backoff (one WARNING line each), each call bounded by
``STORAGE_TIMEOUT_SECONDS``. The start-up load happens in the gunicorn master before the
workers fork; each forked worker then opens its own interpreter (a LiteRT interpreter is not
meant to be shared), so no request ever runs on a model that was not verified. A worker
that cannot open its interpreter exits (gunicorn's worker boot error stops the server): a
process that answers always holds a verified model, so readiness is never false while it
lives.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from function.contract.errors import ArtifactError
from function.contract.manifest import Manifest
from function.contract.quantization import NONE
from function.contract.spec import SPEC, TensorSpec
from function.contract.storage import fetch_served, with_retries
from function.runtime.litert import LiteRTModel

log = logging.getLogger("digitrun")
WORKER_BOOT_ERROR = 3


class ServedModel:
    """One verified model version and this process's interpreter for it."""

    def __init__(self, manifest: Manifest, path: Path, model: LiteRTModel) -> None:
        self.manifest = manifest
        self.version: str = manifest.version
        self.spec = manifest.spec
        self.path = path
        self._model = model
        self._pid = os.getpid()
        # An int8 file's softmax is quantized: its probabilities move in steps of 1/256, so
        # a row sums to 1 only within a few steps (a sure digit tops out at 0.996). Each row
        # is divided by its sum: every answer is a distribution again, like the float
        # model's (the original API's clients may rely on it), and the argmax is unchanged.
        self._renormalize = manifest.quantized != NONE
        self.load_seconds = 0.0
        # Called with (images, probabilities, seconds) after every inference (metrics).
        self.on_inference: Callable[[np.ndarray, np.ndarray, float], None] | None = None

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities [N, 10] for a C-contiguous float32 batch [N, 784] in 0..1.

        Every protocol's inference goes through here (the place for inference metrics).
        A process always holds an open interpreter: one that cannot open it exits.
        """
        model = self._model
        hook = self.on_inference
        if hook is None:
            return self._distribution(model.predict(images))
        started = time.perf_counter()
        probabilities = model.predict(images)
        seconds = time.perf_counter() - started  # LiteRT's time alone
        probabilities = self._distribution(probabilities)
        hook(images, probabilities, seconds)
        return probabilities

    def _distribution(self, probabilities: np.ndarray) -> np.ndarray:
        """``probabilities``, each row divided by its sum when the file is quantized."""
        if self._renormalize:
            probabilities /= probabilities.sum(axis=1, keepdims=True)
        return probabilities

    def reopen_after_fork(self) -> None:
        """In a freshly forked worker: open this process's own interpreter."""
        if os.getpid() == self._pid:
            return
        self._pid = os.getpid()
        try:
            self._model = open_interpreter(self.path, self.spec)
            log.debug("worker %d opened its own interpreter", self._pid)
        except Exception:
            # A worker that cannot run the verified model must not live on: exit code 3 is
            # gunicorn's worker boot error, which stops the whole server.
            log.exception("worker %d could not open %s", self._pid, self.path.name)
            os._exit(WORKER_BOOT_ERROR)


def load_model(uri: str) -> ServedModel:
    """Fetch, verify and open the version at ``uri``; ArtifactError/StorageError otherwise."""
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="digitrun-model-"))
    _remove_at_exit(workdir)
    # Storage that cannot be reached is tried again (STORAGE_RETRIES, with backoff); a
    # missing, corrupt or incomplete version is refused at once.
    manifest = with_retries(lambda: fetch_served(uri, workdir), f"loading {uri}")
    if manifest.spec != SPEC:
        raise ArtifactError(f"{manifest.version}: {spec_difference(manifest.spec, SPEC)}")
    path = workdir / manifest.served_file
    served = ServedModel(manifest, path, open_interpreter(path, manifest.spec))
    served.load_seconds = time.perf_counter() - started
    os.register_at_fork(after_in_child=served.reopen_after_fork)
    log.info(
        "model %s loaded",
        served.version,
        extra={
            "fields": {
                "model_uri": uri,
                "model_version": served.version,
                "arch": manifest.arch,
                "file": manifest.served_file,
                "quantization": manifest.quantized,
                "sha256": manifest.served.sha256,
                "test_accuracy": manifest.served_accuracy,
                "load_seconds": round(served.load_seconds, 4),
            }
        },
    )
    return served


def spec_difference(published: TensorSpec, served: TensorSpec) -> str:
    """Which fields of the published tensor spec differ from the one this service serves."""
    differences = [
        f"{side}.{name} {getattr(mine, name)!r} (this service: {getattr(theirs, name)!r})"
        for side, mine, theirs in (
            ("input", published.input, served.input),
            ("output", published.output, served.output),
        )
        for name in mine.__dataclass_fields__
        if mine.__dataclass_fields__[name].compare and getattr(mine, name) != getattr(theirs, name)
    ]
    return "the tensor spec differs: " + "; ".join(differences)


def open_interpreter(path: Path, spec: TensorSpec = SPEC) -> LiteRTModel:
    """A LiteRT interpreter for ``path`` that has answered one warm-up prediction."""
    model = LiteRTModel(path, spec)
    classes = spec.output.classes
    with _native_stderr_silenced():  # LiteRT prints an INFO line on its first invoke
        probs = model.predict(np.zeros((1, spec.input.features), np.float32))
    if probs.shape != (1, classes) or not np.isfinite(probs).all():
        raise ArtifactError(f"{path.name}: warm-up prediction is not {classes} finite numbers")
    return model


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for a moment: keeps the JSON log clean of
    text that C++ libraries print (Python's own writes are flushed around it)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _remove_at_exit(directory: Path) -> None:
    owner = os.getpid()

    def remove() -> None:
        # Forked workers inherit this hook: only the process that made the folder removes it.
        if os.getpid() == owner:
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(remove)
