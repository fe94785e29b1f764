"""Run the published LiteRT flatbuffer with numpy: no TensorFlow in the serving path."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from function.contract.errors import ArtifactError
from function.contract.spec import SPEC, TensorSpec

# Rows per interpreter call: per image, 256 rows cost what 1,024 do (BENCHMARKS.md), and the
# interpreter's buffers stay at the size of one such call.
MAX_ROWS = 256


class LiteRTModel:
    """One LiteRT interpreter: [N, 784] float32 in 0..1 → [N, 10] probabilities (the
    shapes of ``spec``, checked against the file when it is opened).

    An interpreter is not thread-safe: use one per thread or process.
    """

    def __init__(self, path: Path, spec: TensorSpec = SPEC, *, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415 (heavy)

        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        except (ValueError, RuntimeError) as exc:
            raise ArtifactError(f"{path.name}: not a loadable LiteRT model ({exc})") from exc
        inp = self._interpreter.get_input_details()[0]
        out = self._interpreter.get_output_details()[0]
        self.features = spec.input.features
        self.classes = spec.output.classes
        if list(inp["shape"][1:]) != [self.features] or list(out["shape"][1:]) != [self.classes]:
            raise ArtifactError(
                f"{path.name}: expects {list(inp['shape'])} → {list(out['shape'])}, "
                f"not [N, {self.features}] → [N, {self.classes}]"
            )
        self._input = int(inp["index"])
        self._output = int(out["index"])
        self._batch = -1

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities for a C-contiguous float32 batch of shape [N, features].

        A batch over :data:`MAX_ROWS` runs in calls of at most that many rows: the
        interpreter keeps the buffers of the largest batch it was sized for, so a worker
        that once saw 1,024 images would hold ~8 MB more for the rest of its life."""
        n = images.shape[0]
        if n > MAX_ROWS:
            out = np.empty((n, self.classes), np.float32)
            for start in range(0, n, MAX_ROWS):
                out[start : start + MAX_ROWS] = self.predict(images[start : start + MAX_ROWS])
            return out
        interpreter = self._interpreter
        if n != self._batch:
            interpreter.resize_tensor_input(self._input, [n, self.features], strict=False)
            interpreter.allocate_tensors()
            self._batch = n
        interpreter.set_tensor(self._input, images)
        interpreter.invoke()
        return interpreter.get_tensor(self._output)

    def predict_many(self, images: np.ndarray, chunk: int = 1000) -> np.ndarray:
        """Probabilities for any number of images, ``chunk`` rows per call."""
        parts = [
            self.predict(np.ascontiguousarray(images[i : i + chunk], dtype=np.float32)).copy()
            for i in range(0, images.shape[0], chunk)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.classes), np.float32)
