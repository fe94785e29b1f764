"""Data behaviour: the loader's shapes, scaling and fingerprints, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest

from model.data import class_prior, load_mnist
from model.errors import DataError

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}


def test_shapes_and_dtypes(mnist):
    assert mnist.x_train.shape == (60000, 784)
    assert mnist.x_test.shape == (10000, 784)
    assert mnist.x_train.dtype == np.float32
    assert mnist.y_train.shape == (60000,)
    assert mnist.y_test.shape == (10000,)


def test_scaled_to_unit_interval(mnist):
    assert mnist.x_train.min() == 0.0
    assert mnist.x_train.max() == 1.0
    # 255 maps to exactly 1.0 and the values are multiples of 1/255
    assert np.allclose(mnist.x_test[:100] * 255, np.round(mnist.x_test[:100] * 255), atol=1e-4)


def test_label_counts_of_the_shared_file(mnist):
    assert np.bincount(mnist.y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.y_test, minlength=10).tolist() == TEST_COUNTS


def test_fingerprint_matches_published_checksums(mnist):
    assert mnist.sha256 == SHA256
    assert len(mnist.fingerprint) == 64


def test_limit_takes_the_first_examples(mnist):
    small = mnist.limited(500)
    assert small.x_train.shape == (500, 784)
    assert np.array_equal(small.y_train, mnist.y_train[:500])
    assert small.x_test.shape == (10000, 784)


def test_class_prior_sums_to_one(mnist):
    prior = class_prior(mnist.y_train)
    assert len(prior) == 10
    assert sum(prior) == pytest.approx(1.0, abs=1e-5)
    assert prior[1] == pytest.approx(6742 / 60000, abs=1e-6)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_mnist(tmp_path / "nope.npz")


def test_corrupt_file(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(DataError, match="cannot read"):
        load_mnist(bad)


def test_wrong_layout(tmp_path):
    bad = tmp_path / "mnist.npz"
    np.savez(bad, x_train=np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(DataError, match="missing"):
        load_mnist(bad)


def test_wrong_shapes(tmp_path):
    bad = tmp_path / "mnist.npz"
    np.savez(
        bad,
        x_train=np.zeros((3, 784), np.uint8),
        y_train=np.zeros(3, np.uint8),
        x_test=np.zeros((2, 28, 28), np.uint8),
        y_test=np.zeros(2, np.uint8),
    )
    with pytest.raises(DataError, match="uint8"):
        load_mnist(bad)
