"""The Google Cloud Storage backend of :mod:`function.contract.storage`: a prefix in a
bucket, through google-cloud-storage (which honours ``STORAGE_EMULATOR_HOST``).

Every call carries ``STORAGE_TIMEOUT_SECONDS`` both as the HTTP timeout and as the deadline
of the library's own retries (with backoff), so no single call outlives it by much; every
failure becomes one of the contract's typed storage errors.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from function.contract.errors import (
    ArtifactError,
    LocationNotFoundError,
    StorageError,
    StorageUnavailableError,
    VersionExistsError,
)
from function.contract.storage import storage_timeout


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

    def _blob(self, name: str) -> Any:
        return self.client.bucket(self.bucket_name).blob(self._key(name))

    def check(self) -> None:
        self._call(
            f"bucket {self.bucket_name}", self.client.get_bucket, self.bucket_name, **self._opts()
        )

    def read_bytes(self, name: str) -> bytes | None:
        try:
            return self._call(self._key(name), self._blob(name).download_as_bytes, **self._opts())
        except LocationNotFoundError:
            return None

    def download(self, name: str, dest: Path) -> None:
        blob = self._blob(name)
        try:
            self._call(self._key(name), blob.download_to_filename, str(dest), **self._opts())
        except LocationNotFoundError as exc:
            raise ArtifactError(f"{name}: listed in the manifest but missing") from exc

    def upload(self, src: Path, name: str) -> None:
        # The emulator ignores generation preconditions: callers check exists() first,
        # and real GCS refuses the overwrite atomically through if_generation_match=0.
        self._call(
            self._key(name),
            self._blob(name).upload_from_filename,
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

    def files(self) -> dict[str, float]:
        base = f"{self.prefix}/" if self.prefix else ""

        def walk() -> dict[str, float]:
            blobs = self.client.list_blobs(self.bucket_name, prefix=base, **self._opts())
            return {
                blob.name[len(base) :]: blob.updated.timestamp() if blob.updated else 0.0
                for blob in blobs
            }

        return self._call(f"gs://{self.bucket_name}/{base}", walk)

    def delete(self, name: str) -> None:
        with contextlib.suppress(LocationNotFoundError):  # already gone
            self._call(self._key(name), self._blob(name).delete, **self._opts())

    def remove(self) -> None:
        for name in self.files():
            self.delete(name)

    def sub(self, name: str) -> GcsStore:
        return GcsStore(self.bucket_name, self._key(name), self._client)


def _gcs_client() -> Any:
    from google.cloud import storage  # noqa: PLC0415 (keep module import cheap)

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415

        project = os.environ.get("GOOGLE_CLOUD_PROJECT", "digitrun-local")
        return storage.Client(project=project, credentials=AnonymousCredentials())
    return storage.Client()
