"""Reading (and, for the training job, writing) model versions in GCS or a directory.

One URI form names both: ``gs://BUCKET/PREFIX`` (:mod:`function.contract.gcs`, which
honours ``STORAGE_EMULATOR_HOST``) or a local directory, as a plain path or ``file://`` URI.
Both backends offer the same few operations, so every caller runs the same code path
against the emulator, real GCS and a laptop's disk. Each call is bounded by
``STORAGE_TIMEOUT_SECONDS``; :func:`with_retries` repeats a whole operation
``STORAGE_RETRIES`` more times with backoff while the storage cannot be reached.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import urlparse

from function.contract.checksums import verify_file
from function.contract.errors import (
    ArtifactError,
    InvalidURIError,
    LocationNotFoundError,
    ManifestError,
    StorageError,
    StorageUnavailableError,
    VersionExistsError,
)
from function.contract.manifest import MANIFEST_NAME, Manifest

TIMEOUT_ENV = "STORAGE_TIMEOUT_SECONDS"
DEFAULT_TIMEOUT = 10.0
RETRIES_ENV = "STORAGE_RETRIES"
DEFAULT_RETRIES = 2
MAX_RETRIES = 10
BACKOFF_SECONDS = 1.0  # before the first retry, doubled before each next one
MAX_BACKOFF_SECONDS = 8.0
log = logging.getLogger("digitrun")
T = TypeVar("T")


def storage_timeout() -> float:
    """Seconds a storage call (with its retries) may take: ``STORAGE_TIMEOUT_SECONDS``."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError as exc:
        raise StorageError(f"{TIMEOUT_ENV}={raw!r} is not a number") from exc
    if not value > 0:
        raise StorageError(f"{TIMEOUT_ENV}={raw!r} must be a positive number of seconds")
    return value


def storage_retries() -> int:
    """How many times an unreachable storage is tried again: ``STORAGE_RETRIES``."""
    raw = os.environ.get(RETRIES_ENV, "").strip()
    try:
        value = int(raw) if raw else DEFAULT_RETRIES
    except ValueError as exc:
        raise StorageError(f"{RETRIES_ENV}={raw!r} is not an integer") from exc
    if not 0 <= value <= MAX_RETRIES:
        raise StorageError(f"{RETRIES_ENV}={raw!r} must be between 0 and {MAX_RETRIES}")
    return value


def backoff_seconds(retry: int) -> float:
    """The pause before retry number ``retry`` (1-based): 1, 2, 4, 8, 8... seconds."""
    return min(BACKOFF_SECONDS * 2 ** (retry - 1), MAX_BACKOFF_SECONDS)


def with_retries(action: Callable[[], T], what: str) -> T:
    """``action()``, tried again ``STORAGE_RETRIES`` times with backoff while the storage
    cannot be reached (one WARNING line per retry); the last StorageUnavailableError says
    how many attempts were made. Any other error is raised at once."""
    retries = storage_retries()
    for attempt in range(1, retries + 2):
        try:
            return action()
        except StorageUnavailableError as exc:
            if attempt > retries:
                raise StorageUnavailableError(f"{exc} ({attempt} attempts)") from exc
            pause = backoff_seconds(attempt)
            log.warning(
                "%s: storage unavailable (attempt %d of %d), retrying in %.0f s: %s",
                what,
                attempt,
                retries + 1,
                pause,
                exc,
                extra={"fields": {"attempt": attempt, "retry_in_seconds": pause}},
            )
            time.sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


class Store(Protocol):
    """A folder of objects: a GCS prefix or a local directory."""

    uri: str

    def check(self) -> None:
        """Raise unless the bucket / parent directory exists and is reachable."""

    def read_bytes(self, name: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""

    def download(self, name: str, dest: Path) -> None:
        """Copy one object to a local file."""

    def upload(self, src: Path, name: str) -> None:
        """Create one object from a local file; never overwrite an existing one."""

    def exists(self, name: str) -> bool:
        """True when an object named ``name`` exists, or any object below ``name/``."""

    def children(self) -> list[str]:
        """Names of the immediate sub-folders."""

    def files(self) -> dict[str, float]:
        """Every object below this folder (relative name) and when it was last written."""

    def delete(self, name: str) -> None:
        """Remove one object (nothing when it does not exist)."""

    def remove(self) -> None:
        """Remove this folder and everything in it."""

    def sub(self, name: str) -> Store:
        """The store of the sub-folder ``name``."""


@dataclass
class LocalStore:
    """A local directory."""

    root: Path

    @property
    def uri(self) -> str:
        return str(self.root)

    def check(self) -> None:
        anchor = self.root
        while not anchor.exists():
            anchor = anchor.parent
        if not anchor.is_dir():
            raise LocationNotFoundError(f"{anchor} is not a directory")

    def read_bytes(self, name: str) -> bytes | None:
        path = self.root / name
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror}") from exc

    def download(self, name: str, dest: Path) -> None:
        src = self.root / name
        try:
            shutil.copyfile(src, dest)
        except FileNotFoundError as exc:
            raise ArtifactError(f"{name}: listed in the manifest but missing") from exc

    def upload(self, src: Path, name: str) -> None:
        dest = self.root / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target, then link it into place: a reader sees the whole file
        # or nothing, and os.link refuses to replace an existing file.
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.chmod(tmp, 0o644)
            os.link(tmp, dest)
        except FileExistsError as exc:
            raise VersionExistsError(f"{dest} already exists; refusing to overwrite") from exc
        finally:
            Path(tmp).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return (self.root / name).exists()

    def children(self) -> list[str]:
        if not self.root.is_dir():
            raise LocationNotFoundError(f"directory {self.root} does not exist")
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def files(self) -> dict[str, float]:
        if not self.root.is_dir():
            return {}
        return {
            str(p.relative_to(self.root)): p.stat().st_mtime
            for p in self.root.rglob("*")
            if p.is_file()
        }

    def delete(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def sub(self, name: str) -> LocalStore:
        return LocalStore(self.root / name)


def open_store(uri: str) -> Store:
    """The store a URI names: ``gs://bucket[/prefix]``, ``file:///dir`` or a plain path."""
    if not uri:
        raise InvalidURIError("empty model URI")
    parsed = urlparse(uri)
    if parsed.scheme == "gs":
        if not parsed.netloc:
            raise InvalidURIError(f"{uri!r}: a gs:// URI needs a bucket name")
        from function.contract.gcs import GcsStore  # noqa: PLC0415 (google only when used)

        return GcsStore(parsed.netloc, parsed.path.strip("/"))
    if parsed.scheme == "file":
        return LocalStore(Path(parsed.path).resolve())
    if parsed.scheme and len(parsed.scheme) > 1:
        raise InvalidURIError(f"{uri!r}: only gs:// URIs and local directories are supported")
    return LocalStore(Path(uri).expanduser().resolve())


def read_manifest(store: Store) -> Manifest:
    """The validated manifest of the version in ``store``; ManifestError when absent."""
    raw = store.read_bytes(MANIFEST_NAME)
    if raw is None:
        store.check()  # an unknown bucket says so, rather than "no manifest"
        raise ManifestError(f"{store.uri}: no {MANIFEST_NAME} (not a complete version)")
    return Manifest.parse(raw)


def fetch_version(uri: str, dest: Path, files: Collection[str] | None = None) -> Manifest:
    """Download the version at ``uri`` into ``dest`` and verify it; its manifest.

    Every file the manifest lists is fetched and checked (``model evaluate``, the tests),
    or only ``files`` when given: the manifest is always read and validated, other files
    are not read at all. A name the manifest does not list is an ArtifactError."""
    store = open_store(uri)
    manifest = read_manifest(store)
    fetch_files(store, manifest, dest, manifest.files if files is None else files)
    return manifest


def fetch_served(uri: str, dest: Path) -> Manifest:
    """The start-up's fetch: the manifest, and only the file it serves
    (``runtime.file``), downloaded into ``dest`` and verified; the manifest."""
    store = open_store(uri)
    manifest = read_manifest(store)
    fetch_files(store, manifest, dest, (manifest.served_file,))
    return manifest


def fetch_files(store: Store, manifest: Manifest, dest: Path, names: Iterable[str]) -> None:
    """Download ``names`` from ``store`` into ``dest``, each checked against ``manifest``."""
    wanted = list(names)
    unknown = sorted(set(wanted) - set(manifest.files))
    if unknown:
        raise ArtifactError(f"{store.uri}: the manifest lists no {', '.join(unknown)}")
    dest.mkdir(parents=True, exist_ok=True)
    for name in wanted:
        store.download(name, dest / name)
        verify_file(dest / name, name, manifest.files[name])
