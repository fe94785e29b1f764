"""Removing the leftovers of interrupted publishes: version folders without a manifest.

A folder is removed only when it has no ``manifest.json`` (checked again just before the
removal) and nothing in it was written for ``grace_seconds``, so a publish still under way
is left alone. A folder with a manifest, even an invalid one, is never touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from function.contract.manifest import MANIFEST_NAME, is_version_id
from function.contract.storage import open_store

DEFAULT_GRACE_SECONDS = 3600.0


@dataclass(frozen=True)
class Leftover:
    """One incomplete version folder and what :func:`clean_incomplete` did with it."""

    name: str
    uri: str
    files: int
    idle_seconds: float
    removed: bool
    reason: str


def clean_incomplete(
    base_uri: str, grace_seconds: float = DEFAULT_GRACE_SECONDS, dry_run: bool = False
) -> list[Leftover]:
    """Remove (or with ``dry_run`` only list) the incomplete version folders under
    ``base_uri`` idle for at least ``grace_seconds``; every incomplete folder, oldest first."""
    base = open_store(base_uri)
    base.check()
    leftovers = []
    for name in base.children():
        if not is_version_id(name):
            continue
        store = base.sub(name)
        if store.exists(MANIFEST_NAME):
            continue  # complete (or claims to be): never touched
        files = store.files()
        idle = time.time() - max(files.values(), default=0.0)
        if idle < grace_seconds:
            reason = f"written {idle:.0f} s ago, under the {grace_seconds:.0f} s grace period"
            leftovers.append(Leftover(name, store.uri, len(files), idle, False, reason))
            continue
        if dry_run:
            leftovers.append(Leftover(name, store.uri, len(files), idle, False, "dry run"))
            continue
        if store.exists(MANIFEST_NAME):  # a publish completed it meanwhile
            continue
        store.remove()
        leftovers.append(Leftover(name, store.uri, len(files), idle, True, "removed"))
    return sorted(leftovers, key=lambda leftover: leftover.name)
