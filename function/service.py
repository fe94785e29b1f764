"""The served model: fetched and verified once at start-up, one interpreter per process.

:func:`load_model` downloads the version ``MODEL_URI`` names, checks every file against
its manifest, opens ``model.tflite`` and runs one warm-up prediction: only then is the
model *ready*. The start-up load happens in the gunicorn master before the workers fork;
each forked worker then opens its own interpreter (a LiteRT interpreter is not meant to be
shared), so no request ever runs on a model that was not verified.
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
from typing import Any

import numpy as np

from function.artifact import IMAGE_PIXELS, NUM_CLASSES, SERVED_FILE
from function.errors import ArtifactError
from function.http_errors import ModelNotReadyError
from function.inference import LiteRTModel
from function.storage import fetch_version

log = logging.getLogger("digitrun")
WORKER_BOOT_ERROR = 3


class ServedModel:
    """One verified model version and this process's interpreter for it."""

    def __init__(self, manifest: dict[str, Any], path: Path, model: LiteRTModel) -> None:
        self.manifest = manifest
        self.version: str = str(manifest["version"])
        self.path = path
        self._model: LiteRTModel | None = model
        self._pid = os.getpid()
        self.load_seconds = 0.0
        # Called with (images, probabilities, seconds) after every inference (metrics).
        self.on_inference: Callable[[np.ndarray, np.ndarray, float], None] | None = None

    @property
    def ready(self) -> bool:
        """True while this process holds a verified, warmed-up interpreter."""
        return self._model is not None

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities [N, 10] for a C-contiguous float32 batch [N, 784] in 0..1.

        Every protocol's inference goes through here (the place for inference metrics).
        """
        model = self._model
        if model is None:
            raise ModelNotReadyError(f"model {self.version} is not ready in this worker")
        hook = self.on_inference
        if hook is None:
            return model.predict(images)
        started = time.perf_counter()
        probabilities = model.predict(images)
        hook(images, probabilities, time.perf_counter() - started)
        return probabilities

    def reopen_after_fork(self) -> None:
        """In a freshly forked worker: open this process's own interpreter."""
        if os.getpid() == self._pid:
            return
        self._pid = os.getpid()
        try:
            self._model = open_interpreter(self.path)
            log.debug("worker %d opened its own interpreter", self._pid)
        except Exception:
            # A worker that cannot run the verified model must not live on answering 503:
            # exit code 3 is gunicorn's worker boot error, which stops the whole server.
            log.exception("worker %d could not open %s", self._pid, self.path.name)
            os._exit(WORKER_BOOT_ERROR)


def load_model(uri: str) -> ServedModel:
    """Fetch, verify and open the version at ``uri``; ArtifactError/StorageError otherwise."""
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="digitrun-model-"))
    _remove_at_exit(workdir)
    manifest = fetch_version(uri, workdir)
    # Every file was verified; only the served one is needed from now on (on Cloud Run
    # /tmp is memory).
    for name in manifest["files"]:
        if name != SERVED_FILE:
            (workdir / name).unlink(missing_ok=True)
    path = workdir / SERVED_FILE
    served = ServedModel(manifest, path, open_interpreter(path))
    served.load_seconds = time.perf_counter() - started
    os.register_at_fork(after_in_child=served.reopen_after_fork)
    log.info(
        "model %s loaded",
        served.version,
        extra={
            "fields": {
                "model_uri": uri,
                "model_version": served.version,
                "arch": manifest.get("arch"),
                "sha256": manifest["files"][SERVED_FILE]["sha256"],
                "test_accuracy": manifest.get("metrics", {}).get("test_accuracy"),
                "load_seconds": round(served.load_seconds, 4),
            }
        },
    )
    return served


def open_interpreter(path: Path) -> LiteRTModel:
    """A LiteRT interpreter for ``path`` that has answered one warm-up prediction."""
    model = LiteRTModel(path)
    with _native_stderr_silenced():  # LiteRT prints an INFO line on its first invoke
        probs = model.predict(np.zeros((1, IMAGE_PIXELS), np.float32))
    if probs.shape != (1, NUM_CLASSES) or not np.isfinite(probs).all():
        raise ArtifactError(f"{path.name}: warm-up prediction is not {NUM_CLASSES} finite numbers")
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
