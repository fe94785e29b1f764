"""The google provider's configuration schema, read from the generated bindings of the npm
package ``@cdktf/provider-google`` (provider 6.50.0), since ``terraform validate`` cannot
fetch the provider offline.

Each resource, data source and the provider itself is one directory of ``lib/`` whose
``index.js`` holds a class with ``tfResourceType = "google_..."``. The class's
``synthesizeHclAttributes()`` lists every configurable top-level name as
``name: {value: ..., isBlock: true|false, type: "simple"|"list"|"set"|"map"|"struct", ...}``;
a block's ``value`` calls the generated ``<struct>ToHclTerraform`` function of its nested
type, whose own ``attrs`` list the names inside it, and so on down. Computed-only
attributes are absent, so writing one is reported as unknown, as Terraform would. Which
names are required comes from ``index.d.ts``: the config interfaces declare optional ones
``readonly name?: T`` and required ones ``readonly name: T``, each documented with a
registry link ending in ``#<snake_name>``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

PACKAGE = Path("@cdktf") / "provider-google"
_TYPE = re.compile(r'\.tfResourceType = "([a-z0-9_]+)";')
_VERSION = re.compile(r"providerVersion: '([0-9.]+)'")
_FUNCTION = re.compile(r"^function (\w+)ToHclTerraform\(struct\) \{$", re.M)
_HCL_METHOD = "    synthesizeHclAttributes() {\n"
_ATTRS_START = "const attrs = {"
_ENTRY = re.compile(
    r"""['"]?([A-Za-z0-9_]+)['"]?: \{\s*value: (.*?),\s*isBlock: (true|false),"""
    r"""\s*type: "(\w+)",\s*storageClassType: "(\w+)",\s*\}""",
    re.S,
)
_STRUCT_CALL = re.compile(r"(?<!cdktf\.)\b(\w+)ToHclTerraform\b")
_DOC_PROPERTY = re.compile(
    r"\{@link https://registry\.terraform\.io/\S+#(\w+) [^}]*\}\s*\*/\s*readonly (\w+)(\??):"
)
_GETTER = re.compile(r"^    get (\w+)\(\): ", re.M)
_CAMEL = re.compile(r"(?<!^)([A-Z])")
_INTERNAL = {"internalValue", "fqn", "friendlyUniqueId", "terraformResourceType", "node"}
_INTERFACE = re.compile(r"^export interface (\w+)(?: extends [\w.]+)? \{$", re.M)


class SchemaError(Exception):
    """The bindings are missing or not laid out as this reader expects."""


@dataclass(frozen=True)
class Name:
    """One configurable name in a block: an argument (``x = ...``) or a nested block."""

    name: str
    is_block: bool
    kind: str  # simple, list, set, map, struct
    storage: str  # string, number, boolean, stringList, ..., or the nested struct's list type
    required: bool


@dataclass
class Block:
    """The names allowed inside one block (a resource body or a nested block)."""

    names: dict[str, Name] = field(default_factory=dict)
    blocks: dict[str, Block] = field(default_factory=dict)
    computed: set[str] = field(default_factory=set)  # read-only attributes (top level only)

    @property
    def arguments(self) -> set[str]:
        return {n for n, spec in self.names.items() if not spec.is_block}

    @property
    def required(self) -> set[str]:
        return {n for n, spec in self.names.items() if spec.required}

    @property
    def readable(self) -> set[str]:
        """What an expression may read from it: its arguments and blocks, and computed ones."""
        return set(self.names) | self.computed


def package_dir(node_modules: Path) -> Path:
    """The package's directory; SchemaError when it is not installed."""
    root = node_modules / PACKAGE
    if not (root / "lib").is_dir():
        raise SchemaError(f"{root} is missing: run `make deploy-tools` (npm ci)")
    return root


def package_version(node_modules: Path) -> str:
    """The npm package's own version (16.12.1)."""
    return json.loads((package_dir(node_modules) / "package.json").read_text())["version"]


class ProviderSchema:
    """Resource, data source and provider schemas, each read on first use."""

    def __init__(self, node_modules: Path) -> None:
        self.lib = package_dir(node_modules) / "lib"
        self._dirs = _type_directories(self.lib)
        self.provider_version = _provider_version(self.lib)

    def resource(self, type_name: str) -> Block | None:
        directory = self._dirs.get(("resource", type_name))
        return None if directory is None else _read_block(directory)

    def data_source(self, type_name: str) -> Block | None:
        directory = self._dirs.get(("data", type_name))
        return None if directory is None else _read_block(directory)

    def provider(self) -> Block:
        directory = self._dirs.get(("provider", "google"))
        if directory is None:
            raise SchemaError(f"no provider directory in {self.lib}")
        return _read_block(directory)

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self._dirs if k == kind)


def _type_directories(lib: Path) -> dict[tuple[str, str], Path]:
    """(kind, type) -> directory, kind being resource, data or provider."""
    found: dict[tuple[str, str], Path] = {}
    for index in sorted(lib.glob("*/index.js")):
        match = _TYPE.search(_tail(index))
        if match is None:
            continue
        directory = index.parent
        if directory.name == "provider":
            kind = "provider"
        elif directory.name.startswith("data-google-"):
            kind = "data"
        else:
            kind = "resource"
        found[(kind, match.group(1))] = directory
    if len(found) < 1000:
        raise SchemaError(f"only {len(found)} types found under {lib}: not the expected layout")
    return found


def _tail(path: Path, size: int = 1 << 16) -> str:
    """The end of a generated file, without its inline source map (where the type sits)."""
    text = path.read_bytes()
    cut = text.rfind(b"//# sourceMappingURL=")
    end = cut if cut >= 0 else len(text)
    return text[max(0, end - size) : end].decode()


def _provider_version(lib: Path) -> str:
    match = _VERSION.search((lib / "provider" / "index.js").read_text())
    if match is None:
        raise SchemaError("no providerVersion in the provider bindings")
    return match.group(1)


@cache
def _read_block(directory: Path) -> Block:
    """The schema of the resource (or data source, or provider) in ``directory``."""
    sources = _strip_maps(directory)
    functions = _struct_functions(sources)
    required = _required_names(directory)
    top = _entries_after(sources["index.js"], _HCL_METHOD, "synthesizeHclAttributes")
    class_name = _class_name(sources["index.js"])
    block = _build(top, f"{class_name}Config", functions, required, seen=())
    block.computed = _getters(directory / "index.d.ts", class_name)
    return block


def _strip_maps(directory: Path) -> dict[str, str]:
    """Every generated .js file of the directory, without inline source maps."""
    texts: dict[str, str] = {}
    for path in [directory / "index.js", *sorted((directory / "index-structs").glob("*.js"))]:
        text = path.read_text()
        cut = text.find("//# sourceMappingURL=")
        texts[path.name if path.parent == directory else f"structs/{path.name}"] = (
            text if cut < 0 else text[:cut]
        )
    return texts


def _struct_functions(sources: dict[str, str]) -> dict[str, str]:
    """``<struct>ToHclTerraform`` name -> the text of its ``attrs`` object."""
    functions: dict[str, str] = {}
    for text in sources.values():
        for match in _FUNCTION.finditer(text):
            functions[match.group(1)] = _attrs_object(text, match.end(), match.group(1))
    return functions


def _entries_after(text: str, marker: str, what: str) -> str:
    start = text.find(marker)
    if start < 0:
        raise SchemaError(f"no {what} in the bindings")
    return _attrs_object(text, start, what)


def _attrs_object(text: str, start: int, what: str) -> str:
    """The ``{ ... }`` of the first ``const attrs = {`` after ``start`` (braces balanced)."""
    begin = text.find(_ATTRS_START, start)
    next_function = text.find("\nfunction ", start + 1)
    if begin < 0 or (0 <= next_function < begin):
        return ""  # a struct with nothing configurable (only computed attributes)
    depth = 0
    for position in range(begin + len(_ATTRS_START) - 1, len(text)):
        char = text[position]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[begin + len(_ATTRS_START) : position]
    raise SchemaError(f"unbalanced attrs object in {what}")


def _class_name(index_js: str) -> str:
    match = re.search(
        r"^class (\w+) extends cdktf\.Terraform(?:Resource|DataSource|Provider) ", index_js, re.M
    )
    if match is None:
        raise SchemaError("no resource class in the bindings")
    return match.group(1)


def _getters(declarations: Path, class_name: str) -> set[str]:
    """The snake_case attributes the class exposes as getters (computed ones included)."""
    text = declarations.read_text()
    start = text.find(f"export declare class {class_name} extends cdktf.Terraform")
    if start < 0:
        raise SchemaError(f"no class {class_name} in {declarations}")
    body = text[start : text.find("\n}\n", start)]
    names = {g for g in _GETTER.findall(body) if not g.endswith("Input") and g not in _INTERNAL}
    return {_CAMEL.sub(r"_\1", g).lower() for g in names}


def _required_names(directory: Path) -> dict[str, set[str]]:
    """Interface name -> the snake_case names it declares without ``?`` (required)."""
    required: dict[str, set[str]] = {}
    paths = [directory / "index.d.ts", *sorted((directory / "index-structs").glob("*.d.ts"))]
    for path in paths:
        text = path.read_text()
        interfaces = list(_INTERFACE.finditer(text))
        for number, interface in enumerate(interfaces):
            end = interfaces[number + 1].start() if number + 1 < len(interfaces) else len(text)
            body = text[interface.end() : end]
            body = body[: body.find("\n}\n")] if "\n}\n" in body else body
            names = {m.group(1) for m in _DOC_PROPERTY.finditer(body) if m.group(3) != "?"}
            required[interface.group(1)] = names
    return required


def _build(
    attrs: str,
    interface: str,
    functions: dict[str, str],
    required: dict[str, set[str]],
    seen: tuple[str, ...],
) -> Block:
    block = Block()
    needed = required.get(interface, set())
    for match in _ENTRY.finditer(attrs):
        name, value, is_block, kind, storage = match.groups()
        block.names[name] = Name(name, is_block == "true", kind, storage, name in needed)
        if is_block != "true":
            continue
        nested = [f for f in _STRUCT_CALL.findall(value) if f in functions]
        if len(nested) != 1:
            raise SchemaError(f"block {name} in {interface}: cannot tell its struct from {value}")
        struct = nested[0]
        if struct in seen:  # a recursive type: stop where it repeats
            block.blocks[name] = Block()
            continue
        block.blocks[name] = _build(
            functions[struct], struct[0].upper() + struct[1:], functions, required, (*seen, struct)
        )
    return block
