"""Terraform configuration against the google provider's schema (what ``terraform validate``
would say, offline): unknown resource and data source types, unknown arguments and blocks
at any depth, a block written as an argument or an argument written as a block, missing
required names, and references to attributes a resource does not have."""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from typing import Any

from tests.deploy.schema_google import Block, ProviderSchema
from tests.deploy.tf_config import TerraformConfig, body_items, is_block, walk_values

# Terraform's own meta-arguments, valid on every resource / data source whatever the schema.
RESOURCE_META_ARGUMENTS = {"count", "for_each", "depends_on", "provider"}
RESOURCE_META_BLOCKS = {"lifecycle", "provisioner", "connection"}
DATA_META_ARGUMENTS = {"count", "for_each", "depends_on", "provider"}
DATA_META_BLOCKS = {"lifecycle"}
DYNAMIC_ARGUMENTS = {"for_each", "iterator", "labels"}
_REFERENCE = re.compile(
    r"(?<![\w.])(data\.)?(google_[a-z0-9_]+)\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?\.([a-z_][a-z0-9_]*)"
)


def check(config: TerraformConfig, schema: ProviderSchema) -> list[str]:
    """Every problem found, one line each, naming the block and the path inside it."""
    findings: list[str] = []
    for block in config.blocks:
        if block.kind == "resource":
            findings += _check_typed(
                block.address,
                block.body,
                schema.resource(block.labels[0]),
                RESOURCE_META_ARGUMENTS,
                RESOURCE_META_BLOCKS,
                "resource type",
            )
        elif block.kind == "data":
            findings += _check_typed(
                block.address,
                block.body,
                schema.data_source(block.labels[0]),
                DATA_META_ARGUMENTS,
                DATA_META_BLOCKS,
                "data source",
            )
        elif block.kind == "provider" and block.labels[0] == "google":
            findings += _check_body("provider.google", block.body, schema.provider(), set(), set())
    findings += _check_references(config, schema)
    return findings


def checked_blocks(config: TerraformConfig) -> list[str]:
    """The addresses :func:`check` looks into: every google resource, data source, provider."""
    return [
        b.address if b.kind != "provider" else "provider.google"
        for b in config.blocks
        if b.kind in ("resource", "data") or (b.kind == "provider" and b.labels[0] == "google")
    ]


def _check_typed(
    address: str,
    body: dict[str, Any],
    spec: Block | None,
    meta_arguments: AbstractSet[str],
    meta_blocks: AbstractSet[str],
    what: str,
) -> list[str]:
    if spec is None:
        return [f"{address}: unknown {what} {address.removeprefix('data.').split('.')[0]!r}"]
    return _check_body(address, body, spec, meta_arguments, meta_blocks)


def _check_body(
    where: str,
    body: dict[str, Any],
    spec: Block,
    meta_arguments: AbstractSet[str] = frozenset(),
    meta_blocks: AbstractSet[str] = frozenset(),
) -> list[str]:
    findings: list[str] = []
    present: set[str] = set()
    for name, value in body_items(body):
        if name == "dynamic":
            for dynamic in value:
                for label, dynamic_body in body_items(dynamic):
                    present.add(label)
                    findings += _check_dynamic(where, label, dynamic_body, spec)
            continue
        present.add(name)
        if name in meta_arguments or name in meta_blocks:
            if name in meta_blocks and not is_block(value):
                findings.append(f"{where}: {name} is a block: write `{name} {{ ... }}`")
            continue
        findings += _check_name(where, name, value, spec)
    for name in sorted(spec.required - present):
        kind = "block" if spec.names[name].is_block else "argument"
        findings.append(f"{where}: missing required {kind} {name!r}")
    return findings


def _check_name(where: str, name: str, value: Any, spec: Block) -> list[str]:
    known = spec.names.get(name)
    if known is None:
        return [
            f"{where}: unknown {'block' if is_block(value) else 'argument'} {name!r}"
            f"{_hint(name, spec)}"
        ]
    if known.is_block and not is_block(value):
        return [f"{where}: {name} is a block: write `{name} {{ ... }}`, not `{name} = ...`"]
    if not known.is_block and is_block(value):
        return [f"{where}: {name} is an argument: write `{name} = ...`, not a block"]
    if not known.is_block:
        return []
    findings: list[str] = []
    for index, inner in enumerate(value):
        suffix = f"[{index}]" if len(value) > 1 else ""
        findings += _check_body(f"{where}.{name}{suffix}", inner, spec.blocks[name])
    return findings


def _check_dynamic(where: str, label: str, body: dict[str, Any], spec: Block) -> list[str]:
    known = spec.names.get(label)
    if known is None or not known.is_block:
        what = "an argument, not a block" if known else "not a block here"
        return [f"{where}: dynamic {label!r}: {label!r} is {what}{_hint(label, spec)}"]
    findings: list[str] = []
    for name, value in body_items(body):
        if name == "content":
            for inner in value:
                findings += _check_body(f"{where}.{label}(dynamic)", inner, spec.blocks[label])
        elif name not in DYNAMIC_ARGUMENTS:
            findings.append(f"{where}: dynamic {label!r}: unknown {name!r}")
    if "for_each" not in body or "content" not in body:
        findings.append(f"{where}: dynamic {label!r} needs for_each and content")
    return findings


def _check_references(config: TerraformConfig, schema: ProviderSchema) -> list[str]:
    """``google_TYPE.NAME.ATTR`` / ``data.google_TYPE.NAME.ATTR`` in any expression: the
    type must exist, be declared here under NAME, and have ATTR (argument or computed)."""
    declared = {b.address for b in config.blocks if b.kind in ("resource", "data")}
    findings: set[str] = set()
    for block in config.blocks:
        for value in walk_values(block.body):
            if not isinstance(value, str) or "${" not in value:
                continue
            for data, type_name, name, attribute in _REFERENCE.findall(value):
                address = f"{data}{type_name}.{name}"
                spec = schema.data_source(type_name) if data else schema.resource(type_name)
                if spec is None:
                    findings.add(f"{block.address}: reference to unknown type in {address}")
                elif address not in declared:
                    findings.add(f"{block.address}: reference to undeclared {address}")
                elif attribute not in spec.readable:
                    findings.add(f"{block.address}: {address} has no attribute {attribute!r}")
    return sorted(findings)


def _hint(name: str, spec: Block) -> str:
    close = [n for n in spec.names if _distance(n, name) <= 2]
    return f" (did you mean {' or '.join(repr(n) for n in sorted(close))}?)" if close else ""


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]
