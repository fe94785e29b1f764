"""Make the MNIST test-digit sample shipped in ``loadtest/data/`` (``mnist_test_sample.npz``).

    python -m loadtest.sample --data path/to/mnist.npz [--per-class 50] [--seed 0]

It keeps Keras' layout (``x_test`` uint8 [N, 28, 28], ``y_test`` uint8 [N]) plus ``index``,
each digit's position in MNIST's test set, so ``--data`` accepts either file. The digits
are from the MNIST database by Yann LeCun and Corinna Cortes, licensed CC BY-SA 3.0
(see ``loadtest/data/README.md``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from function.contract.spec import SPEC

SAMPLE_PATH = Path(__file__).resolve().parent / "data" / "mnist_test_sample.npz"


def make_sample(source: Path, per_class: int = 50, seed: int = 0) -> dict[str, np.ndarray]:
    """``per_class`` test digits of each class, drawn at random (``seed``), in test-set order."""
    with np.load(source, allow_pickle=False) as data:
        images, labels = data["x_test"], data["y_test"]
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(labels == digit), size=per_class, replace=False)
        for digit in range(SPEC.output.classes)
    ]
    index = np.sort(np.concatenate(picks))
    return {
        "x_test": images[index].astype(np.uint8),
        "y_test": labels[index].astype(np.uint8),
        "index": index.astype(np.int32),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.sample", description=__doc__)
    parser.add_argument(
        "--data",
        type=Path,
        default=os.environ.get("MNIST_PATH"),
        required=not os.environ.get("MNIST_PATH"),
        help="MNIST .npz in Keras' layout [env MNIST_PATH]",
    )
    parser.add_argument("--per-class", type=int, default=50, help="digits per class [50]")
    parser.add_argument("--seed", type=int, default=0, help="random seed [0]")
    parser.add_argument("--out", type=Path, default=SAMPLE_PATH, help="where to write it")
    args = parser.parse_args(argv)
    arrays = make_sample(Path(args.data), args.per_class, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"{len(arrays['y_test'])} test digits → {args.out}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
