"""The manifest of a version that serves an int8 quantization: ``runtime`` names the served
file and its quantization, ``quantization`` records the figures and the gates; old manifests
serve ``model.tflite``; a manifest whose parts disagree is refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from function.contract.checksums import describe_files
from function.contract.errors import ManifestError
from function.contract.manifest import INT8_FILE, SERVED_FILE, Manifest
from function.contract.quantization import Quantization
from tests.code.test_artifact import minimal_manifest

FIGURES = {
    "mode": "int8",
    "test_accuracy": 0.9823,
    "float_test_accuracy": 0.9822,
    "argmax_agreement": 0.9993,
    "images": 10000,
    "representative_examples": 500,
    "max_accuracy_drop": 0.001,
    "min_argmax_agreement": 0.998,
}


@pytest.fixture
def int8_manifest(tmp_path: Path) -> dict:
    for name, content in ((SERVED_FILE, b"float"), (INT8_FILE, b"int8"), ("model.keras", b"k")):
        (tmp_path / name).write_bytes(content)
    data = minimal_manifest(describe_files(tmp_path, [SERVED_FILE, INT8_FILE, "model.keras"]))
    data["runtime"] = {"file": INT8_FILE, "engine": "litert", "quantization": "int8"}
    data["quantization"] = dict(FIGURES)
    return data


def test_an_int8_manifest_names_its_served_file_and_round_trips(int8_manifest):
    manifest = Manifest.from_dict(int8_manifest)
    assert manifest.served_file == INT8_FILE
    assert manifest.served == manifest.files[INT8_FILE] != manifest.files[SERVED_FILE]
    assert manifest.quantized == "int8"
    assert manifest.quantization == Quantization(**FIGURES)
    assert manifest.served_accuracy == 0.9823
    assert manifest.metrics.test_accuracy == 0.9  # the float model's, as before
    written = json.loads(manifest.dump())
    assert written["runtime"] == int8_manifest["runtime"]
    assert written["quantization"] == FIGURES
    assert Manifest.parse(manifest.dump()) == manifest


def test_a_float_manifest_says_so(int8_manifest):
    data = copy.deepcopy(int8_manifest)
    del data["runtime"], data["quantization"]
    manifest = Manifest.from_dict(data)
    assert (manifest.served_file, manifest.quantization) == (SERVED_FILE, None)
    assert manifest.served_accuracy == manifest.metrics.test_accuracy
    written = json.loads(manifest.dump())
    assert written["runtime"] == {"file": SERVED_FILE, "engine": "litert", "quantization": "none"}
    assert written["quantization"] is None
    assert Manifest.parse(manifest.dump()) == manifest


def _drop_figure(data: dict) -> None:
    del data["quantization"]["argmax_agreement"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["runtime"].update(quantization="int4"), "'int4' is not one of"),
        (lambda d: d["runtime"].update(quantization="none"), "disagrees"),
        (lambda d: d.update(quantization=None), "disagrees"),
        (lambda d: d["quantization"].update(mode="none"), "disagrees"),
        (lambda d: d["runtime"].update(file="model-other.tflite"), "does not list its served"),
        (lambda d: d["runtime"].update(file=SERVED_FILE), "the float file is model.tflite"),
        (lambda d: d.update(runtime={"file": INT8_FILE}, quantization=None), "the float file"),
        (lambda d: d["quantization"].update(test_accuracy="high"), "malformed"),
        (_drop_figure, "malformed"),
        (lambda d: d.update(quantization=[1, 2]), "quantization must be an object"),
        (lambda d: d.update(runtime="litert"), "runtime must be an object"),
    ],
)
def test_a_manifest_whose_parts_disagree_is_refused(int8_manifest, mutate, message):
    data = copy.deepcopy(int8_manifest)
    mutate(data)
    with pytest.raises(ManifestError, match=message):
        Manifest.parse(json.dumps(data).encode())


def test_the_served_file_is_what_the_function_loads(int8_manifest, tmp_path):
    """The function opens the file the manifest names (and only keeps that one): here
    the int8 name holds bytes that are no model, and the refusal names that file."""
    from function.contract.errors import ArtifactError
    from function.runtime.served import load_model

    version = tmp_path / "versions" / int8_manifest["version"]
    version.mkdir(parents=True)
    for name in int8_manifest["files"]:
        (version / name).write_bytes((tmp_path / name).read_bytes())
    (version / "manifest.json").write_text(json.dumps(int8_manifest))
    with pytest.raises(ArtifactError, match=rf"^{INT8_FILE}: not a loadable LiteRT model"):
        load_model(str(version))
