"""Typed errors of the artifact contract and its storage.

They are raised where a problem arises and turned into an exit code (``model`` CLI) or a
refusal to start (the function) in one place each.
"""

from __future__ import annotations

from function.errors import DigitrunError


class ArtifactError(DigitrunError):
    """A published version is missing, incomplete or does not match its manifest."""


class ManifestError(ArtifactError):
    """``manifest.json`` is absent or not a valid manifest."""


class ChecksumMismatchError(ArtifactError):
    """A file differs from the size or sha256 its manifest lists."""


class StorageError(DigitrunError):
    """The bucket or directory cannot be read or written."""


class StorageUnavailableError(StorageError):
    """The storage service cannot be reached."""


class LocationNotFoundError(StorageError):
    """The bucket, directory or version does not exist."""


class VersionExistsError(StorageError):
    """Publishing would overwrite an existing version."""


class InvalidURIError(StorageError):
    """A model URI that is neither ``gs://bucket/prefix`` nor a local directory."""
