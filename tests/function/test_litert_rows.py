"""The interpreter runs big batches in calls of at most MAX_ROWS rows: the same answers as
one call per image, and its buffers stay at MAX_ROWS rows."""

from __future__ import annotations

import numpy as np
import psutil

from function.runtime import litert
from function.runtime.litert import MAX_ROWS, LiteRTModel


def rows(images: np.ndarray, n: int) -> np.ndarray:
    """``n`` rows of real digits (the fixture's, repeated), float32, C-contiguous."""
    flat = images.reshape(len(images), -1)
    return np.ascontiguousarray(np.resize(flat, (n, flat.shape[1])), dtype=np.float32)


def test_a_big_batch_gives_what_each_image_alone_gives(published_version, digits):
    images, _ = digits
    batch = rows(images, 2 * MAX_ROWS + 37)
    model = LiteRTModel(published_version / "model.tflite")
    together = model.predict(batch)
    alone = np.concatenate([model.predict(batch[i : i + 1]) for i in range(len(batch))])
    assert together.shape == (len(batch), model.classes)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert (together.argmax(axis=1) == alone.argmax(axis=1)).all()


def test_the_interpreter_is_never_sized_past_max_rows(published_version, digits, monkeypatch):
    images, _ = digits
    model = LiteRTModel(published_version / "model.tflite")
    sizes: list[int] = []
    resize = model._interpreter.resize_tensor_input

    def record(index, shape, strict=False):
        sizes.append(shape[0])
        return resize(index, shape, strict=strict)

    monkeypatch.setattr(model._interpreter, "resize_tensor_input", record)
    model.predict(rows(images, 1024))
    assert sizes and max(sizes) == MAX_ROWS
    assert litert.MAX_ROWS == MAX_ROWS


def test_a_worker_that_saw_a_big_batch_keeps_little_of_it(published_version, digits):
    images, _ = digits
    model = LiteRTModel(published_version / "model.tflite")
    model.predict(rows(images, MAX_ROWS))
    before = psutil.Process().memory_info().rss
    model.predict(rows(images, 1024))
    model.predict(rows(images, 1))
    grown = psutil.Process().memory_info().rss - before
    assert grown < 4 * 1024 * 1024, f"RSS grew {grown / 1e6:.1f} MB after a 1,024-image batch"
