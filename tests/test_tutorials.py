"""Every tutorial runs from start to end in smoke mode (tiny settings) and writes its figures."""

import ast
import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

from ppl.cli import main

ROOT = pathlib.Path(__file__).parent.parent
TUTORIALS = sorted((ROOT / "tutorials").glob("*.py"))


def _literal(path: pathlib.Path, name: str, default=None):
    """The value of the tutorial's top-level ``name = <literal>``, read without running it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
            name
        ]:
            return ast.literal_eval(node.value)
    return default


def figures(path: pathlib.Path) -> list[str]:
    """The tutorial's top-level ``FIGURES = [...]`` list, read without running it, less the
    figures that its ``NEEDS = {figure: module}`` ties to an optional package not installed here
    (the tutorial skips their section with a message)."""
    names = _literal(path, "FIGURES")
    if names is None:
        raise AssertionError(f"{path.name} declares no top-level FIGURES list")
    needs = _literal(path, "NEEDS", {})
    unknown = set(needs) - set(names)
    assert not unknown, f"{path.name}: NEEDS names figures not in FIGURES: {sorted(unknown)}"
    return [n for n in names if n not in needs or importlib.util.find_spec(needs[n]) is not None]


def test_figures_drop_only_those_whose_optional_package_is_missing(tmp_path):
    path = tmp_path / "tutorial.py"
    path.write_text(
        'FIGURES = ["a.png", "b.png", "c.png"]\n'
        'NEEDS = {"b.png": "no_such_module_ppl_test", "c.png": "numpy"}\n'
    )
    assert figures(path) == ["a.png", "c.png"]
    path.write_text('FIGURES = ["a.png"]\nNEEDS = {"z.png": "numpy"}\n')
    with pytest.raises(AssertionError, match="z.png"):
        figures(path)


#: the backend each smoke run takes where it is not the tutorial's default: in smoke mode these
#: cost a third to a seventh as much on Pyro, where NumPyro spends them compiling (CPU seconds:
#: 6 against 31 for 02, 15 against 32 for 03, 7 against 54 for 04); the others keep their
#: default backend (06 costs 109 s on Pyro against 46 s), so both backends run tutorials here
SMOKE_BACKEND = {
    "02_effect_handlers": "pyro",
    "03_sgmcmc_bnn": "pyro",
    "04_multimodal_and_log_z": "pyro",
    "07_vae": "pyro",  # 3 CPU s against 27 on NumPyro (both backends: 30), which compiles 3 fits
    "08_discrete_latents": "pyro",  # 46 CPU s under load; NumPyro compiles the funsor contraction
}


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_in_smoke_mode_and_writes_its_figures(path, tmp_path):
    names = figures(path)
    assert names, f"{path.name} declares no figures"
    env = {**os.environ, "PPL_SMOKE": "1", "MPLBACKEND": "Agg"}
    if path.stem in SMOKE_BACKEND:
        env["PPL_BACKEND"] = SMOKE_BACKEND[path.stem]
    out = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    folder = tmp_path / "out" / path.stem
    missing = [n for n in names if not (folder / n).is_file() or (folder / n).stat().st_size == 0]
    assert not missing, f"{path.name} did not write {missing} under {folder}"


def test_tutorials_are_listed_with_a_title_and_unknown_names_rejected(capsys):
    assert main(["tutorials"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [p.stem for p in TUTORIALS]
    assert all(len(line.split()) > 1 for line in lines), lines  # each has its title
    assert main(["tutorial", "01_quickstrt"]) == 2
    assert "Did you mean '01_quickstart'" in capsys.readouterr().err


def test_tutorial_command_runs_the_file_with_smoke_and_backend_set(monkeypatch, capsys):
    import runpy

    seen = {}

    def fake_run_path(path, run_name):
        seen.update(
            path=path, smoke=os.environ.get("PPL_SMOKE"), backend=os.environ.get("PPL_BACKEND")
        )

    monkeypatch.setattr(runpy, "run_path", fake_run_path)
    monkeypatch.setenv("PPL_SMOKE", "0")  # setenv, so the values the command sets are undone
    monkeypatch.setenv("PPL_BACKEND", "numpyro")
    assert main(["tutorial", "01_quickstart", "--smoke", "--backend", "pyro"]) == 0
    assert seen == {"path": str(TUTORIALS[0]), "smoke": "1", "backend": "pyro"}
    assert "out/01_quickstart" in capsys.readouterr().out
