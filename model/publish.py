"""Publishing a version (data files first, ``manifest.json`` last, never overwriting) and
listing the versions under a bucket prefix or directory.

A publish that died part-way leaves a folder without a manifest: no reader takes it for a
version. Publishing the same version again completes it (files already there and intact
are kept, others replaced); a folder with a manifest is never written to.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from function.contract.checksums import verify_directory, verify_file
from function.contract.errors import ArtifactError, VersionExistsError
from function.contract.manifest import MANIFEST_NAME, FileEntry, Manifest, is_version_id
from function.contract.storage import Store, open_store, read_manifest


def publish_version(directory: Path, manifest: Manifest, base_uri: str) -> str:
    """Upload the version in ``directory`` to ``base_uri/<version>/``; its URI.

    Every file is checked against the manifest first; the manifest goes up last, so a
    reader never sees a half-published version as complete.
    """
    verify_directory(directory, manifest)
    base = open_store(base_uri)
    base.check()
    version = manifest.version
    target = base.sub(version)
    resuming = base.exists(version)
    if resuming and target.exists(MANIFEST_NAME):
        raise VersionExistsError(f"{base.uri}/{version} already exists; refusing to overwrite")
    for name, entry in sorted(manifest.files.items()):
        if resuming and _left_intact(target, name, entry):
            continue
        target.upload(directory / name, name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / MANIFEST_NAME
        path.write_bytes(manifest.dump())
        target.upload(path, MANIFEST_NAME)
    return target.uri


def _left_intact(target: Store, name: str, entry: FileEntry) -> bool:
    """True when an earlier, interrupted publish left ``name`` complete; a damaged copy is
    deleted (the folder has no manifest: nothing reads it) so it can be uploaded again."""
    if not target.exists(name):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "object"
        try:
            target.download(name, path)
            verify_file(path, name, entry)
            return True
        except ArtifactError:
            target.delete(name)
            return False


@dataclass(frozen=True)
class VersionInfo:
    """One folder under a prefix: its manifest, or why it is not a complete version."""

    name: str
    uri: str
    manifest: Manifest | None
    problem: str | None = None

    @property
    def complete(self) -> bool:
        return self.manifest is not None


def list_versions(base_uri: str) -> list[VersionInfo]:
    """Every version folder under ``base_uri``, newest first."""
    base: Store = open_store(base_uri)
    base.check()
    infos = []
    for name in base.children():
        if not is_version_id(name):
            continue
        store = base.sub(name)
        try:
            infos.append(VersionInfo(name, store.uri, read_manifest(store)))
        except ArtifactError as exc:
            infos.append(VersionInfo(name, store.uri, None, str(exc)))
    return sorted(infos, key=lambda info: info.name, reverse=True)


def newest_version(base_uri: str, arch: str, quantized: str) -> str | None:
    """The URI of the newest complete version of ``arch`` serving ``quantized`` (none,
    int8) under ``base_uri``: the one a training run with those settings would publish."""
    for info in list_versions(base_uri):
        if info.manifest and (info.manifest.arch, info.manifest.quantized) == (arch, quantized):
            return info.uri
    return None
