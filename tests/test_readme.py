"""The README's promises, run (issue 24, item 13).

Every ```python block of README.md is executed, in order, in one namespace (a later block uses
the earlier ones' ``model``, ``X`` and ``y``), as a reader would paste them. Each block as
written takes 20-70 s on the project's 2-core machine (measured: the default ``svi`` on Pyro,
``cmcd`` with ``num_steps=2000``, fifty Thompson-sampling rounds), so they are marked slow; the
fast tests check that every block compiles and that every dotted ``ppl.`` path the README names
resolves after a plain ``import ppl``.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.S)
#: dotted paths in backticks, with or without a call or ``help(...)`` around them
PATHS = sorted(set(re.findall(r"`(?:help\()?(ppl(?:\.[A-Za-z_]\w*)+)", TEXT)))


def test_the_readme_has_python_blocks_and_paths():
    assert len(BLOCKS) >= 3 and "ppl.plots.compare" in PATHS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_python_block_compiles(index):
    compile(BLOCKS[index], f"README.md python block {index}", "exec")


def test_every_documented_path_resolves_after_import_ppl():
    """A fresh interpreter, so no other test has imported the submodules first."""
    script = (
        "import functools, ppl\n"
        f"for path in {PATHS!r}:\n"
        "    functools.reduce(getattr, path.split('.')[1:], ppl)\n"
        "from ppl.dist import constraints\n"
        "help(ppl.inference.sgmcmc.base.SGOptions)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=README.parent,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def namespace():
    """The namespace the blocks share, and which of them have run in it."""
    return {"globals": {}, "ran": set()}


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_python_block_runs(index, namespace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the blocks write files (post.nc)
    for earlier in range(index + 1):  # a block selected alone runs the ones before it first
        if earlier not in namespace["ran"]:
            code = compile(BLOCKS[earlier], f"README.md python block {earlier}", "exec")
            exec(code, namespace["globals"])
            namespace["ran"].add(earlier)
