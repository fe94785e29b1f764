"""The layout stays easy to see: function/ grouped by concern, small modules and functions,
and the tensor spec's numbers written only in the contract."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_TOP_LEVEL = 5
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
SOURCES = sorted(
    p for folder in ("function", "model", "client") for p in (ROOT / folder).rglob("*.py")
)
# Every module that could re-type the spec: the service, training, and what talks to them.
# (bench/references/ is left out: the original design, kept as it was, to measure against.)
SPEC_USERS = sorted(
    p
    for folder in ("function", "model", "bench", "scripts", "loadtest", "client")
    for p in (ROOT / folder).rglob("*.py")
    if ROOT / "bench" / "references" not in p.parents
)
SPEC_MODULE = ROOT / "function" / "contract" / "spec.py"


def test_function_top_level_holds_few_modules():
    top = sorted(p.name for p in (ROOT / "function").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL, top


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_are_small(path):
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_functions_are_short(path):
    tree = ast.parse(path.read_text())
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long


def retyped_spec_numbers(path: Path) -> list[tuple[int, str]]:
    """Code (not strings or comments) that re-types the spec: 784, 28 * 28 or ÷ 255."""
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
        if t.type not in (tokenize.COMMENT, tokenize.STRING, tokenize.NL, tokenize.NEWLINE)
    ]
    found = []
    for before, token, after in zip([None, *tokens], tokens, [*tokens[1:], None], strict=False):
        if token.type != tokenize.NUMBER:
            continue
        value = ast.literal_eval(token.string)
        divided = before is not None and before.string in ("/", "//")
        squared = value == 28 and (
            (after is not None and after.string == "*")
            or (before is not None and before.string == "*")
        )
        if (value == 784 or (value == 255 and divided) or squared) and (
            not found or found[-1][0] != token.start[0]
        ):
            found.append((token.start[0], token.line.strip()))
    return found


@pytest.mark.parametrize(
    "path", [p for p in SPEC_USERS if p != SPEC_MODULE], ids=lambda p: str(p.relative_to(ROOT))
)
def test_shapes_and_scaling_live_in_the_contract(path):
    assert not retyped_spec_numbers(path)


def test_the_check_finds_a_retyped_scaling(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""784 in a docstring is fine."""\nx = raw / 255.0  # not this\nn = 28 * 28\n'
    )
    assert [line for line, _ in retyped_spec_numbers(sample)] == [2, 3]
