"""The benchmark finds its cached float and int8 versions by what their manifests serve,
and reports each served file (bench/prepare.py)."""

from __future__ import annotations

from pathlib import Path

from bench.prepare import cached_version, model_info
from function.contract.checksums import describe_files
from function.contract.manifest import INT8_FILE, SERVED_FILE, Manifest
from tests.code.test_artifact import minimal_manifest
from tests.code.test_manifest_quantization import FIGURES


def publish(models: Path, name: str, int8: bool) -> Path:
    version = models / name
    version.mkdir(parents=True)
    files = [SERVED_FILE, "model.keras"] + ([INT8_FILE] if int8 else [])
    for file in files:
        (version / file).write_bytes(file.encode() * 300)
    data = minimal_manifest(describe_files(version, files))
    if int8:
        data["runtime"] = {"file": INT8_FILE, "engine": "litert", "quantization": "int8"}
        data["quantization"] = dict(FIGURES)
    (version / "manifest.json").write_bytes(Manifest.from_dict(data).dump())
    return version


def test_the_newest_version_of_each_kind_is_reused(tmp_path):
    models = tmp_path / "models"
    publish(models, "20261101T000000Z-00000001", int8=False)
    newer_float = publish(models, "20261102T000000Z-00000002", int8=False)
    int8 = publish(models, "20261103T000000Z-00000003", int8=True)
    (models / "20261104T000000Z-00000004").mkdir()  # incomplete: no manifest yet
    broken = models / "20261105T000000Z-00000005"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    assert cached_version(models, "none") == newer_float
    assert cached_version(models, "int8") == int8


def test_nothing_cached_means_training(tmp_path):
    assert cached_version(tmp_path / "models", "int8") is None
    publish(tmp_path / "models", "20261101T000000Z-00000001", int8=False)
    assert cached_version(tmp_path / "models", "int8") is None


def test_the_report_names_the_served_file_and_its_accuracy(tmp_path):
    version = publish(tmp_path / "models", "20261103T000000Z-00000003", int8=True)
    manifest, info = model_info(version)
    assert manifest.served_file == info.file == INT8_FILE
    assert info.test_accuracy == FIGURES["test_accuracy"]
    assert info.size_kb == round(len(INT8_FILE.encode() * 300) / 1024, 1)
