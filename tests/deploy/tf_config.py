"""A Terraform directory parsed with python-hcl2, and the small lookups the tests need.

Values come as python-hcl2 serializes them with quotes stripped: a string literal is its
text, any expression is ``"${...}"`` (``var.cpu`` is ``"${var.cpu}"``), numbers and bools are
Python's. A block is a list of dicts each marked ``__is_block__``, so a block and an
argument holding a list of objects stay distinguishable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

BLOCK_MARK = "__is_block__"
_LOCAL = re.compile(r"\$\{local\.(\w+)\}")


def _hcl2() -> Any:
    try:
        import hcl2
    except ImportError:
        pytest.fail("python-hcl2 is missing from .venv: run `make setup`", pytrace=False)
    return hcl2


@cache
def parse_text(text: str) -> dict[str, Any]:
    """One file's text as python-hcl2's dict (comments dropped, quotes stripped); cached,
    so never modify what it returns."""
    hcl2 = _hcl2()
    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
    return hcl2.loads(text, serialization_options=options)


def is_block(value: Any) -> bool:
    """True for a block (one or more ``name { ... }``), false for an argument's value."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and item.get(BLOCK_MARK) for item in value)
    )


def body_items(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """A block body's (name, value) pairs without python-hcl2's markers."""
    for name, value in body.items():
        if not name.startswith("__"):
            yield name, value


@dataclass(frozen=True)
class Labeled:
    """A labeled top-level block: ``resource "TYPE" "NAME" {}``, ``variable "NAME" {}``..."""

    kind: str
    labels: tuple[str, ...]
    body: dict[str, Any]
    file: str

    @property
    def address(self) -> str:
        """How Terraform names it: TYPE.NAME, data.TYPE.NAME, output.NAME, module.NAME..."""
        prefix = "" if self.kind == "resource" else f"{self.kind}."
        return prefix + ".".join(self.labels)


@dataclass
class TerraformConfig:
    """Every ``.tf`` file of one directory (not its subdirectories), parsed."""

    directory: Path
    blocks: list[Labeled] = field(default_factory=list)
    locals: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> TerraformConfig:
        config = cls(directory)
        for path in sorted(directory.glob("*.tf")):
            text = path.read_text()
            config.texts[path.name] = text
            config.add(parse_text(text), path.name)
        return config

    @classmethod
    def from_texts(cls, texts: dict[str, str], directory: Path = Path(".")) -> TerraformConfig:
        """A configuration from in-memory files (the tests' planted mistakes)."""
        config = cls(directory)
        for name, text in sorted(texts.items()):
            config.texts[name] = text
            config.add(parse_text(text), name)
        return config

    def add(self, parsed: dict[str, Any], file: str) -> None:
        for kind, entries in body_items(parsed):
            for entry in entries:
                if kind == "locals":
                    self.locals.update(dict(body_items(entry)))
                elif kind in ("terraform", "moved", "import", "check"):
                    self.blocks.append(Labeled(kind, (), entry, file))
                else:
                    self.blocks.extend(_labeled(kind, entry, file))

    def of_kind(self, kind: str) -> list[Labeled]:
        return [b for b in self.blocks if b.kind == kind]

    def resources(self, type_name: str | None = None) -> list[Labeled]:
        return [b for b in self.of_kind("resource") if type_name in (None, b.labels[0])]

    def resource(self, type_name: str, name: str) -> dict[str, Any]:
        for block in self.resources(type_name):
            if block.labels[1] == name:
                return block.body
        raise KeyError(f"no resource {type_name}.{name} in {self.directory}")

    @property
    def variables(self) -> dict[str, dict[str, Any]]:
        return {b.labels[0]: b.body for b in self.of_kind("variable")}

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return {b.labels[0]: b.body for b in self.of_kind("output")}

    def resolve(self, value: Any, depth: int = 0) -> Any:
        """``value`` with every ``${local.NAME}`` whose local is a string replaced by it."""
        if not isinstance(value, str) or depth > 10:
            return value

        def substitute(match: re.Match[str]) -> str:
            local = self.locals.get(match.group(1))
            return self.resolve(local, depth + 1) if isinstance(local, str) else match.group(0)

        return _LOCAL.sub(substitute, value)


def _labeled(kind: str, entry: dict[str, Any], file: str) -> Iterator[Labeled]:
    """``{"TYPE": {"NAME": body}}`` (two labels) or ``{"NAME": body}`` (one) → Labeled."""
    for first, inner in body_items(entry):
        if kind in ("resource", "data", "ephemeral"):
            for second, body in body_items(inner):
                yield Labeled(kind, (first, second), body, file)
        else:
            yield Labeled(kind, (first,), inner, file)


def only(blocks: Any, what: str) -> dict[str, Any]:
    """The single block in a python-hcl2 block list (``template``, ``scaling``...)."""
    assert is_block(blocks) and len(blocks) == 1, f"expected exactly one {what} block: {blocks!r}"
    return blocks[0]


def nested(body: dict[str, Any], *path: str) -> list[dict[str, Any]]:
    """Every block at ``path`` under ``body``, static or the content of a ``dynamic``."""
    found = [body]
    for name in path:
        step: list[dict[str, Any]] = []
        for block in found:
            value = block.get(name)
            if is_block(value):
                step.extend(value)
            for dynamic in block.get("dynamic", []):
                if name in dynamic:
                    step.extend(dynamic[name]["content"])
        found = step
    return found


def walk_values(value: Any) -> Iterator[Any]:
    """Every scalar inside a parsed value (keys excluded)."""
    if isinstance(value, dict):
        for name, inner in body_items(value):
            del name
            yield from walk_values(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from walk_values(inner)
    else:
        yield value
