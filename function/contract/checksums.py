"""Checksums of a version's files: the manifest's ``files`` table and its verification."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from function.contract.errors import ChecksumMismatchError

if TYPE_CHECKING:
    from function.contract.manifest import FileEntry, Manifest

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of a byte string."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe_files(directory: Path, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The manifest's ``files`` table as JSON: size and sha256 of each named file."""
    table: dict[str, dict[str, Any]] = {}
    for name in sorted(names):
        path = directory / name
        table[name] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    return table


def verify_file(path: Path, name: str, entry: FileEntry) -> None:
    """Check one downloaded file against its manifest entry (``size`` and ``sha256``)."""
    if not path.is_file():
        raise ChecksumMismatchError(f"{name}: listed in the manifest but missing")
    size = path.stat().st_size
    if size != entry.size:
        raise ChecksumMismatchError(f"{name}: size {size} != manifest {entry.size}")
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise ChecksumMismatchError(
            f"{name}: sha256 {actual[:12]}… != manifest {str(entry.sha256)[:12]}…"
        )


def verify_directory(directory: Path, manifest: Manifest) -> None:
    """Check every file the manifest lists against the copies in ``directory``."""
    for name, entry in manifest.files.items():
        verify_file(directory / name, name, entry)
