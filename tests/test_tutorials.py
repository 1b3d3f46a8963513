"""Every tutorial runs from start to end in smoke mode (tiny settings)."""

import os
import pathlib
import subprocess
import sys

import pytest

from ppl.cli import main

TUTORIALS = sorted((pathlib.Path(__file__).parent.parent / "tutorials").glob("*.py"))


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_in_smoke_mode(path, tmp_path):
    env = {**os.environ, "PPL_SMOKE": "1", "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]


def test_tutorials_are_listed_and_unknown_names_rejected(capsys):
    assert main(["tutorials"]) == 0
    assert capsys.readouterr().out.split() == [p.stem for p in TUTORIALS]
    assert main(["tutorial", "getting_startd"]) == 2
    assert "Did you mean 'getting_started'" in capsys.readouterr().err
