"""int8 quantization of the served model (``train --quantize int8``).

The LiteRT converter's full-integer quantization, calibrated on a representative set drawn
from the training data: every operator runs on int8, while the model's input and output
stay float32 (the converter quantizes the input and dequantizes the output inside the
file), so the tensor spec, every protocol and the function stay exactly as they are. A
quantized file is not bit-identical to Keras: instead of the float file's parity check it
must pass two gates against the float model on the whole test set before it may be
published — the test accuracy may drop by at most 0.1 point, and the argmax must agree on
at least 99.8% of the images.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from function.contract.manifest import INT8_FILE
from function.contract.quantization import INT8, Quantization
from function.runtime.litert import LiteRTModel
from model.errors import QuantizationError
from model.evaluation import accuracy

log = logging.getLogger(__name__)
REPRESENTATIVE_EXAMPLES = 500
MAX_ACCURACY_DROP = 0.001  # 0.1 point
MIN_ARGMAX_AGREEMENT = 0.998
# Accuracies are counts over the test images: a drop of exactly 10 images in 10,000 is
# 0.1 point, not 0.1 point plus a rounding error.
_SLACK = 1e-9


def representative_set(x_train: np.ndarray, seed: int) -> np.ndarray:
    """``REPRESENTATIVE_EXAMPLES`` training images picked at random (the run's seed): the
    converter's calibration data."""
    count = min(REPRESENTATIVE_EXAMPLES, len(x_train))
    picked = np.random.default_rng(seed).choice(len(x_train), count, replace=False)
    return np.ascontiguousarray(x_train[np.sort(picked)], dtype=np.float32)


def export_int8(model: Any, directory: Path, representative: np.ndarray) -> Path:
    """Convert with full-integer quantization (int8 operators only, float32 input and
    output, dynamic batch): ``model-int8.tflite``."""
    import tensorflow as tf  # noqa: PLC0415 (heavy)

    def calibration() -> Iterator[list[np.ndarray]]:
        for i in range(len(representative)):
            yield [representative[i : i + 1]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    # int8 builtins only: the conversion fails rather than leave an operator in float.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    chatter = io.StringIO()  # the converter prints its traced signature on stdout
    with contextlib.redirect_stdout(chatter), warnings.catch_warnings():
        # The float input has no recorded range: the converter calibrates it, and says so.
        warnings.filterwarnings("ignore", "Statistics for quantized inputs", UserWarning)
        flatbuffer = converter.convert()
    log.debug("LiteRT converter (int8): %s", chatter.getvalue())
    path = directory / INT8_FILE
    path.write_bytes(flatbuffer)
    return path


def measure(
    float_probs: np.ndarray,
    int8_path: Path,
    x_test: np.ndarray,
    y_test: np.ndarray,
    representative_examples: int,
) -> Quantization:
    """The quantized file's test accuracy and argmax agreement with the float model."""
    int8_pred = LiteRTModel(int8_path).predict_many(x_test).argmax(axis=1)
    float_pred = float_probs.argmax(axis=1)
    return Quantization(
        mode=INT8,
        test_accuracy=round(accuracy(y_test, int8_pred), 6),
        float_test_accuracy=round(accuracy(y_test, float_pred), 6),
        argmax_agreement=round(accuracy(float_pred, int8_pred), 6),
        images=len(y_test),
        representative_examples=representative_examples,
        max_accuracy_drop=MAX_ACCURACY_DROP,
        min_argmax_agreement=MIN_ARGMAX_AGREEMENT,
    )


def check_gates(quantization: Quantization) -> Quantization:
    """``quantization`` when it passes both gates; QuantizationError (one line) otherwise."""
    drop = quantization.float_test_accuracy - quantization.test_accuracy
    agreement = quantization.argmax_agreement
    failed = []
    if drop > quantization.max_accuracy_drop + _SLACK:
        failed.append(
            f"test accuracy drops {drop * 100:.2f} points "
            f"(allowed {quantization.max_accuracy_drop * 100:.2f})"
        )
    if agreement < quantization.min_argmax_agreement - _SLACK:
        failed.append(
            f"argmax agrees with the float model on {agreement:.2%} of the test images "
            f"(required {quantization.min_argmax_agreement:.2%})"
        )
    if failed:
        raise QuantizationError(
            f"the int8 model is refused: {'; '.join(failed)} "
            f"(int8 {quantization.test_accuracy:.4f}, float "
            f"{quantization.float_test_accuracy:.4f} on {quantization.images} test images); "
            "refusing to publish (train with --quantize none to publish the float model)"
        )
    return quantization
