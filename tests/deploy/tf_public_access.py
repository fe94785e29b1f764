"""Who can call the service, as written in Terraform: checkov has no check for IAM on
``google_cloud_run_v2_service``, so this finds every public grant (``allUsers`` or
``allAuthenticatedUsers`` anywhere in a resource or a local, or a Cloud Run invoker check
disabled) that the public-access variable does not govern."""

from __future__ import annotations

from typing import Any

from tests.deploy.tf_config import TerraformConfig, walk_values

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
VARIABLE = "var.public_access"
SWITCH = "${" + VARIABLE + "}"
# Resources whose `invoker_iam_disabled = true` lets anyone call them.
INVOKER_CHECK = (
    "google_cloud_run_v2_service",
    "google_cloud_run_v2_job",
    "google_cloud_run_v2_worker_pool",
)


def _public_values(value: Any) -> list[str]:
    """The strings inside ``value`` that name a public member."""
    return [
        scalar
        for scalar in walk_values(value)
        if isinstance(scalar, str) and any(member in scalar for member in PUBLIC_MEMBERS)
    ]


def _switched(body: dict[str, Any]) -> bool:
    """The resource exists only as ``var.public_access`` decides (its count or for_each)."""
    return VARIABLE in f"{body.get('count', '')} {body.get('for_each', '')}"


def findings(config: TerraformConfig) -> list[str]:
    """One line per public grant not governed by ``var.public_access``."""
    found: list[str] = []
    for block in config.resources():
        if not _switched(block.body):
            found += [
                f"{block.address}: grants {value!r} whatever {VARIABLE} says"
                for value in _public_values(block.body)
            ]
        disabled = block.body.get("invoker_iam_disabled", False)
        if block.labels[0] in INVOKER_CHECK and disabled not in (False, SWITCH):
            found.append(f"{block.address}: invoker_iam_disabled = {disabled!r}, not {VARIABLE}")
    for name, value in config.locals.items():
        if VARIABLE not in str(value):
            found += [
                f"local.{name}: names {scalar!r} whatever {VARIABLE} says"
                for scalar in _public_values(value)
            ]
    return found


def governed(config: TerraformConfig) -> list[str]:
    """The resources through which ``var.public_access`` opens the service."""
    return [
        block.address
        for block in config.resources()
        if block.body.get("invoker_iam_disabled") == SWITCH
        or (_switched(block.body) and _public_values(block.body))
    ]
