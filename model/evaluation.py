"""Classification metrics: accuracy, per-class precision/recall, the confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from function.contract.spec import SPEC

NUM_CLASSES = SPEC.output.classes


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """[10, 10] counts: row = true digit, column = predicted digit."""
    flat = y_true.astype(np.int64) * NUM_CLASSES + y_pred.astype(np.int64)
    return np.bincount(flat, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)


def per_class_metrics(matrix: np.ndarray) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each digit, from a confusion matrix."""
    metrics: dict[str, dict[str, float]] = {}
    for digit in range(NUM_CLASSES):
        tp = float(matrix[digit, digit])
        predicted = float(matrix[:, digit].sum())
        actual = float(matrix[digit, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        metrics[str(digit)] = {
            "precision": round(precision, 6),
            "recall": round(recall, 6),
            "f1": round(f1, 6),
            "support": int(actual),
        }
    return metrics


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of exact matches."""
    return float(np.mean(y_true == y_pred)) if len(y_true) else 0.0


def summarize(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Accuracy, log loss, per-class metrics and confusion matrix of predicted probabilities."""
    y_pred = probabilities.argmax(axis=1)
    matrix = confusion_matrix(y_true, y_pred)
    picked = probabilities[np.arange(len(y_true)), y_true]
    loss = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0)))) if len(y_true) else 0.0
    return {
        "accuracy": round(accuracy(y_true, y_pred), 6),
        "loss": round(loss, 6),
        "per_class": per_class_metrics(matrix),
        "confusion_matrix": matrix.tolist(),
    }


def plot_confusion_matrix(matrix: np.ndarray, path: Path, title: str) -> None:
    """Write the confusion matrix as a PNG heat map with counts."""
    import matplotlib  # noqa: PLC0415 (heavy)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    image = ax.imshow(np.log1p(matrix), cmap="Blues")
    ax.set_xticks(range(NUM_CLASSES))
    ax.set_yticks(range(NUM_CLASSES))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    threshold = np.log1p(matrix).max() / 2
    for i in range(NUM_CLASSES):
        for j in range(NUM_CLASSES):
            color = "white" if np.log1p(matrix[i, j]) > threshold else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
