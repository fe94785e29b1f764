"""Publishing a version (data files first, ``manifest.json`` last, never overwriting) and
listing the versions under a bucket prefix or directory."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from function.contract.checksums import verify_directory
from function.contract.errors import ArtifactError, VersionExistsError
from function.contract.manifest import MANIFEST_NAME, Manifest, is_version_id
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
    if base.exists(version):
        raise VersionExistsError(f"{base.uri}/{version} already exists; refusing to overwrite")
    target = base.sub(version)
    for name in sorted(manifest.files):
        target.upload(directory / name, name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / MANIFEST_NAME
        path.write_bytes(manifest.dump())
        target.upload(path, MANIFEST_NAME)
    return target.uri


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
