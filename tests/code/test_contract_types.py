"""The typed artifact contract: manifests of every schema-1 vintage load, the written form
round-trips, and the tensor spec's one scaling is the one training and serving use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from function.contract.errors import ManifestError
from function.contract.manifest import SERVED_FILE, Manifest
from function.contract.spec import SPEC, InputSpec, OutputSpec, TensorSpec

FIXTURES = Path(__file__).parent / "fixtures"
# Written by the training job as of commit 0230968 (before the typed contract): no
# "raw" entry in "input"; its scaling was uint8 ÷ 255.
OLD_MANIFEST = FIXTURES / "manifest-schema1-20261128.json"


def test_a_manifest_published_before_the_typed_contract_still_loads():
    raw = OLD_MANIFEST.read_bytes()
    manifest = Manifest.parse(raw)
    original = json.loads(raw)
    assert manifest.version == original["version"] == "20261128T233005Z-1e9d7b2e"
    assert manifest.spec == SPEC
    assert manifest.served.sha256 == original["files"][SERVED_FILE]["sha256"]
    assert manifest.metrics.test_accuracy == original["metrics"]["test_accuracy"]
    assert manifest.dataset.sha256 == original["dataset"]["sha256"]
    assert manifest.class_prior == tuple(original["class_prior"])
    assert manifest.engine == "litert"
    # It predates quantization: it serves its float model.tflite.
    assert manifest.served_file == SERVED_FILE and manifest.quantization is None
    assert manifest.quantized == "none"
    assert manifest.served_accuracy == original["metrics"]["test_accuracy"]
    # Written again, it says the same, plus the scaling and the quantization the old one
    # left implicit.
    rewritten = manifest.as_dict()
    assert rewritten["input"].pop("raw") == {"dtype": "uint8", "max": 255}
    assert rewritten["runtime"].pop("quantization") == "none"
    assert rewritten.pop("quantization") is None
    assert rewritten == original


def test_the_written_form_round_trips():
    manifest = Manifest.parse(OLD_MANIFEST.read_bytes())
    again = Manifest.parse(manifest.dump())
    assert again == manifest
    assert again.dump() == manifest.dump()
    assert manifest.dump().endswith(b"}\n")


def test_spec_entries_round_trip():
    assert InputSpec.from_dict(SPEC.input.as_dict()) == SPEC.input
    assert OutputSpec.from_dict(SPEC.output.as_dict()) == SPEC.output
    assert TensorSpec() == SPEC
    assert SPEC.input.shape == (None, 784)
    assert SPEC.input.image_shape == (28, 28)
    assert SPEC.output.shape == (None, 10)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("image", "input must be an object"),
        ({"name": "image", "dtype": "float32"}, "lacks shape"),
        ({"name": "image", "shape": [None, 784, 1], "dtype": "float32"}, "shape"),
        ({"name": "image", "shape": [None, 783], "dtype": "float32"}, "square"),
        ({"name": "image", "shape": [None, 784], "dtype": "float32", "raw": 5}, "raw"),
    ],
)
def test_malformed_input_specs_are_refused(entry, message):
    with pytest.raises(ManifestError, match=message):
        InputSpec.from_dict(entry)


def test_a_malformed_field_is_a_manifest_error():
    data = json.loads(OLD_MANIFEST.read_bytes())
    data["metrics"]["test_accuracy"] = "high"
    with pytest.raises(ManifestError, match="malformed"):
        Manifest.from_dict(data)


def test_the_one_scaling_is_uint8_over_255_in_float32():
    raw = np.resize(np.arange(256, dtype=np.uint8), 784).reshape(1, 28, 28)
    scaled = SPEC.input.scale(raw)
    assert scaled.dtype == np.float32 and scaled.shape == (1, 784)
    assert scaled.flags.c_contiguous
    np.testing.assert_array_equal(scaled, raw.reshape(1, 784).astype(np.float32) / 255.0)
    assert scaled.min() == 0.0 and scaled.max() == 1.0


def test_training_scales_mnist_through_the_spec():
    from model.data import to_model_input

    raw = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(to_model_input(raw), SPEC.input.scale(raw))


def test_the_service_refuses_a_version_with_another_tensor_spec(tmp_path):
    """A complete, verified version whose spec is not the one the service serves is refused
    before its model is opened, naming the fields that differ."""
    from function.contract.checksums import describe_files
    from function.contract.errors import ArtifactError
    from function.runtime.served import load_model

    data = json.loads(OLD_MANIFEST.read_bytes())
    version = tmp_path / data["version"]
    version.mkdir()
    (version / SERVED_FILE).write_bytes(b"not opened")
    data["files"] = describe_files(version, [SERVED_FILE])
    data["input"] = {**data["input"], "name": "pixels", "raw": {"dtype": "uint16", "max": 65535}}
    (version / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=r"input\.name 'pixels'") as refused:
        load_model(str(version))
    assert "input.raw_dtype 'uint16'" in str(refused.value)
    assert "output" not in str(refused.value)
