"""Fetching part of a version: the start-up reads the manifest and the file it serves, and
nothing else; a full fetch (``model evaluate``, the default) still verifies every file.

In a local directory, a ``file://`` URI and (slow) the real GCS emulator."""

from __future__ import annotations

import re

import pytest

from function.contract.errors import ArtifactError, ChecksumMismatchError
from function.contract.manifest import SERVED_FILE
from function.contract.storage import fetch_served, fetch_version, open_store
from model.evaluate import evaluate_version
from model.publish import publish_version
from tests.code.test_publish import base_uri, staged  # noqa: F401 (fixtures)

OTHER = "model.keras"  # listed in the manifest, never served


@pytest.fixture
def damaged(staged, base_uri, tmp_path):  # noqa: F811
    """A published version whose model.keras was replaced after publishing: its URI and
    manifest (which still lists the original model.keras)."""
    staging, manifest = staged
    uri = publish_version(staging, manifest, base_uri)
    bad = tmp_path / "bad"
    bad.write_bytes(b"not the published model.keras")
    store = open_store(uri)
    store.delete(OTHER)
    store.upload(bad, OTHER)
    return uri, manifest


def test_a_served_only_fetch_reads_only_the_served_file(damaged, tmp_path):
    uri, manifest = damaged
    dest = tmp_path / "served"
    assert fetch_served(uri, dest) == manifest
    assert sorted(p.name for p in dest.iterdir()) == [SERVED_FILE]
    assert fetch_version(uri, tmp_path / "named", files=[SERVED_FILE]) == manifest
    assert sorted(p.name for p in (tmp_path / "named").iterdir()) == [SERVED_FILE]


def test_a_full_fetch_verifies_every_file(damaged, tmp_path):
    uri, _ = damaged
    with pytest.raises(ChecksumMismatchError, match=re.escape(OTHER)):
        fetch_version(uri, tmp_path / "all")
    with pytest.raises(ChecksumMismatchError, match=re.escape(OTHER)):
        fetch_version(uri, tmp_path / "named", files=[OTHER])


def test_the_served_file_is_still_verified(staged, base_uri, tmp_path):  # noqa: F811
    staging, manifest = staged
    uri = publish_version(staging, manifest, base_uri)
    store = open_store(uri)
    store.delete(SERVED_FILE)
    bad = tmp_path / "bad"
    bad.write_bytes((staging / SERVED_FILE).read_bytes()[:-1] + b"!")  # same size
    store.upload(bad, SERVED_FILE)
    with pytest.raises(ChecksumMismatchError, match=re.escape(f"{SERVED_FILE}: sha256")):
        fetch_served(uri, tmp_path / "served")


def test_a_name_the_manifest_does_not_list_is_refused(staged, base_uri, tmp_path):  # noqa: F811
    staging, manifest = staged
    uri = publish_version(staging, manifest, base_uri)
    with pytest.raises(ArtifactError, match=re.escape("lists no model-int8.tflite")):
        fetch_version(uri, tmp_path / "x", files=[SERVED_FILE, "model-int8.tflite"])
    assert not (tmp_path / "x" / SERVED_FILE).exists()  # refused before any download


def test_model_evaluate_refuses_a_damaged_file_it_does_not_serve(damaged, mnist_path):
    uri, _ = damaged
    with pytest.raises(ChecksumMismatchError, match=re.escape(OTHER)):
        evaluate_version(uri, mnist_path)
