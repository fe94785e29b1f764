"""The release gate: a published version may be deployed only when it is complete and its
recorded test accuracy reaches a floor. Reads the manifest alone (no download of the model,
no TensorFlow), so a deploy pipeline can run it in seconds."""

from __future__ import annotations

from function.contract.manifest import Manifest
from function.contract.storage import open_store, read_manifest
from model.errors import ReleaseError


def check_release(uri: str, min_accuracy: float) -> Manifest:
    """The manifest of the version at ``uri``; ReleaseError when the test accuracy of the
    file it serves (the int8 one's when it serves int8) is under ``min_accuracy``
    (ManifestError / StorageError when it is not a complete version)."""
    manifest = read_manifest(open_store(uri))
    accuracy = manifest.served_accuracy
    if accuracy < min_accuracy:
        served = "" if manifest.quantization is None else f" ({manifest.quantized})"
        raise ReleaseError(
            f"{manifest.version}: test accuracy{served} {accuracy:.4f} is under the release "
            f"floor {min_accuracy:.4f}; refusing to deploy it"
        )
    return manifest
