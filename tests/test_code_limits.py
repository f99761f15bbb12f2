"""The size limits of manifest_gui/, measured from the code so they keep holding: no class over
350 lines, no function over 80, no module over 650, app.py at most 450; no comment, docstring
or string naming an issue number; no job kind compared as a bare string in app.py."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from manifest_gui.engine.jobs import JobKind

PACKAGE = Path(__file__).resolve().parent.parent / "manifest_gui"
MODULES = sorted(PACKAGE.rglob("*.py"))
CLASS_LINES, FUNCTION_LINES, MODULE_LINES, APP_LINES = 350, 80, 650, 450
ISSUE_NUMBER = re.compile(r"\bissues?\s*(?:#|no\.?\s*)?\d+", re.IGNORECASE)


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def _lines(node: ast.AST) -> int:
    end = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
    start = min(
        [node.lineno]  # type: ignore[attr-defined]
        + [d.lineno for d in getattr(node, "decorator_list", [])]
    )
    return int(end) - start + 1


def _oversized(limit_class: int, limit_function: int) -> list[str]:
    found = []
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and _lines(node) > limit_class:
                found.append(f"{_name(path)}: class {node.name}, {_lines(node)} lines")
            elif (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and _lines(node) > limit_function
            ):
                found.append(f"{_name(path)}: def {node.name}, {_lines(node)} lines")
    return found


def test_the_package_has_modules_to_measure() -> None:
    assert len(MODULES) > 20 and PACKAGE / "app.py" in MODULES


def test_no_class_or_function_is_over_its_limit() -> None:
    assert _oversized(CLASS_LINES, FUNCTION_LINES) == []


def test_the_measure_finds_an_oversized_class_and_function() -> None:
    # With limits of a few lines, the same measure must report plenty: it cannot pass blindly.
    found = _oversized(5, 2)
    assert any(": class Application," in line for line in found)
    assert any(": def __init__," in line for line in found)


def test_no_module_is_over_its_limit() -> None:
    lengths = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in MODULES}
    over = [f"{_name(p)}: {n} lines" for p, n in lengths.items() if n > MODULE_LINES]
    assert over == []
    assert lengths[PACKAGE / "app.py"] <= APP_LINES


def _texts(source: str) -> list[tuple[int, str]]:
    """Every comment and string literal (docstrings included), with its line."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.STRING) or token.type == getattr(
            tokenize, "FSTRING_MIDDLE", -1
        ):
            found.append((token.start[0], token.string))
    return found


@pytest.mark.parametrize(
    ("text", "names_one"),
    [("# archive (issue 5)", True), ('"see issue #12"', True), ("# the issues we fix", False)],
)
def test_the_issue_number_pattern(text: str, names_one: bool) -> None:
    assert bool(ISSUE_NUMBER.search(text)) is names_one


def test_no_comment_or_string_names_an_issue_number() -> None:
    found = [
        f"{_name(path)}:{line}: {text.strip()}"
        for path in MODULES
        for line, text in _texts(path.read_text(encoding="utf-8"))
        if ISSUE_NUMBER.search(text)
    ]
    assert found == []


def _bare_kind_comparisons(source: str) -> list[int]:
    kinds = {kind.value for kind in JobKind}
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for operand in operands:
                values = operand.elts if isinstance(operand, ast.Tuple | ast.Set) else [operand]
                if any(isinstance(v, ast.Constant) and v.value in kinds for v in values):
                    lines.append(node.lineno)
    return lines


def test_no_job_kind_is_compared_as_a_bare_string_in_app() -> None:
    assert _bare_kind_comparisons('if kind == "check" or kind in ("file", "x"):\n    pass') == [
        1,
        1,
    ]
    assert _bare_kind_comparisons((PACKAGE / "app.py").read_text(encoding="utf-8")) == []
