"""Reading (and, for the training job, writing) model versions in GCS or a directory.

One URI form names both: ``gs://BUCKET/PREFIX`` (google-cloud-storage, which honours
``STORAGE_EMULATOR_HOST``) or a local directory, as a plain path or ``file://`` URI.
Both backends offer the same few operations, so every caller runs the same code path
against the emulator, real GCS and a laptop's disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
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

    def sub(self, name: str) -> LocalStore:
        return LocalStore(self.root / name)


@dataclass
class GcsStore:
    """A prefix in a Google Cloud Storage bucket (or the emulator)."""

    bucket_name: str
    prefix: str
    _client: Any = None

    @property
    def uri(self) -> str:
        return f"gs://{self.bucket_name}/{self.prefix}".rstrip("/")

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _gcs_client()
        return self._client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from google.api_core import exceptions as gexc  # noqa: PLC0415 (cheap import path)
        from google.auth import exceptions as auth_exc  # noqa: PLC0415
        from requests import exceptions as req_exc  # noqa: PLC0415

        try:
            return fn(*args, **kwargs)
        except gexc.NotFound as exc:
            raise LocationNotFoundError(f"{what}: not found in gs://{self.bucket_name}") from exc
        except gexc.PreconditionFailed as exc:
            raise VersionExistsError(f"{what}: already exists; refusing to overwrite") from exc
        except (gexc.Forbidden, gexc.Unauthorized) as exc:
            raise StorageError(f"{what}: permission denied ({exc.code})") from exc
        except auth_exc.DefaultCredentialsError as exc:
            raise StorageError(f"{what}: no Google credentials (set up ADC)") from exc
        except (req_exc.ConnectionError, req_exc.Timeout, gexc.RetryError) as exc:
            host = os.environ.get("STORAGE_EMULATOR_HOST") or "storage.googleapis.com"
            raise StorageUnavailableError(f"{what}: cannot reach {host}") from exc
        except gexc.GoogleAPICallError as exc:
            raise StorageError(f"{what}: {exc.message}") from exc

    def _opts(self) -> dict[str, Any]:
        from google.cloud.storage.retry import DEFAULT_RETRY  # noqa: PLC0415

        timeout = storage_timeout()
        return {"timeout": timeout, "retry": DEFAULT_RETRY.with_timeout(timeout)}

    def check(self) -> None:
        self._call(
            f"bucket {self.bucket_name}", self.client.get_bucket, self.bucket_name, **self._opts()
        )

    def read_bytes(self, name: str) -> bytes | None:
        blob = self.client.bucket(self.bucket_name).blob(self._key(name))
        try:
            return self._call(self._key(name), blob.download_as_bytes, **self._opts())
        except LocationNotFoundError:
            return None

    def download(self, name: str, dest: Path) -> None:
        blob = self.client.bucket(self.bucket_name).blob(self._key(name))
        try:
            self._call(self._key(name), blob.download_to_filename, str(dest), **self._opts())
        except LocationNotFoundError as exc:
            raise ArtifactError(f"{name}: listed in the manifest but missing") from exc

    def upload(self, src: Path, name: str) -> None:
        # The emulator ignores generation preconditions: callers check exists() first,
        # and real GCS refuses the overwrite atomically through if_generation_match=0.
        blob = self.client.bucket(self.bucket_name).blob(self._key(name))
        self._call(
            self._key(name),
            blob.upload_from_filename,
            str(src),
            if_generation_match=0,
            **self._opts(),
        )

    def exists(self, name: str) -> bool:
        blobs = self._call(
            self._key(name),
            lambda: list(
                self.client.list_blobs(
                    self.bucket_name, prefix=self._key(name), max_results=1, **self._opts()
                )
            ),
        )
        return bool(blobs)

    def children(self) -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""

        def walk() -> list[str]:
            iterator = self.client.list_blobs(
                self.bucket_name, prefix=base, delimiter="/", **self._opts()
            )
            for _ in iterator:  # the prefixes fill in as the pages are read
                pass
            return sorted(p[len(base) :].rstrip("/") for p in iterator.prefixes)

        return self._call(f"gs://{self.bucket_name}/{base}", walk)

    def sub(self, name: str) -> GcsStore:
        return GcsStore(self.bucket_name, self._key(name), self._client)


def _gcs_client() -> Any:
    from google.cloud import storage  # noqa: PLC0415 (keep module import cheap)

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415

        project = os.environ.get("GOOGLE_CLOUD_PROJECT", "digitrun-local")
        return storage.Client(project=project, credentials=AnonymousCredentials())
    return storage.Client()


def open_store(uri: str) -> Store:
    """The store a URI names: ``gs://bucket[/prefix]``, ``file:///dir`` or a plain path."""
    if not uri:
        raise InvalidURIError("empty model URI")
    parsed = urlparse(uri)
    if parsed.scheme == "gs":
        if not parsed.netloc:
            raise InvalidURIError(f"{uri!r}: a gs:// URI needs a bucket name")
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


def fetch_version(uri: str, dest: Path) -> Manifest:
    """Download the version at ``uri`` into ``dest`` and verify every file; the manifest."""
    store = open_store(uri)
    manifest = read_manifest(store)
    dest.mkdir(parents=True, exist_ok=True)
    for name, entry in manifest.files.items():
        store.download(name, dest / name)
        verify_file(dest / name, name, entry)
    return manifest
