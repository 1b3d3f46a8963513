"""The repository explains itself: ARCHITECTURE.md names only paths that exist, and no docstring
in ``ppl`` points to a file outside the repository."""

from __future__ import annotations

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: what a pointer out of the repository looks like: the project's shared folder, its design
#: notes, an absolute machine path, or a path climbing above a file
OUTSIDE = re.compile(r"DESIGN\.md|shared/|/work/|(?<![\w.])\.\./")


def _docstrings(path: pathlib.Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                yield getattr(node, "name", "<module>"), doc


def test_no_docstring_points_outside_the_repository():
    found = [
        f"{path.relative_to(ROOT)}:{name}: {match.group(0)!r}"
        for path in sorted((ROOT / "ppl").rglob("*.py"))
        for name, doc in _docstrings(path)
        for match in OUTSIDE.finditer(doc)
    ]
    assert not found, "docstrings point outside the repository:\n" + "\n".join(found)


def test_the_pattern_catches_a_pointer_out():
    assert OUTSIDE.search("see DESIGN.md §4") and OUTSIDE.search("in ../notes/plan.md")
    assert not OUTSIDE.search("ppl/backends/base.py and x[..., 1:]")


def test_architecture_names_only_paths_that_exist():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    paths = set(re.findall(r"`((?:ppl|tests|benchmarks)/[\w/.<>-]*?)`", text))
    assert "ppl/inference/driver.py" in paths  # the pattern finds the paths it should check
    missing = sorted(p for p in paths if "<" not in p and not (ROOT / p).exists())
    assert not missing, f"ARCHITECTURE.md names paths that do not exist: {missing}"
