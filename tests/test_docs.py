"""``make docs``: the site builds, and each tutorial's page shows an image per declared figure."""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from .test_tutorials import TUTORIALS, figures

ROOT = pathlib.Path(__file__).parent.parent


def test_mkdocs_config_names_the_tutorials_and_the_api():
    config = (ROOT / "mkdocs.yml").read_text()
    assert 'include: ["tutorials/*.py"]' in config and "execute: true" in config
    assert (ROOT / "docs" / "tutorials").resolve() == (ROOT / "tutorials").resolve()
    assert "::: ppl" in (ROOT / "docs" / "api.md").read_text()


@pytest.mark.slow  # executes every tutorial in smoke mode: minutes
def test_built_site_shows_an_image_per_figure(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(pathlib.Path(sys.executable).parent))
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    env = {**os.environ, "PPL_SMOKE": "1", "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1"}
    env["PYTHONWARNINGS"] = "ignore:IProgress not found"  # as make docs: tqdm without ipywidgets
    env.pop("MPLBACKEND", None)  # the kernel's inline backend is what puts the figures on the page
    out = subprocess.run(
        [mkdocs, "build", "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # the tutorials write out/<stem>/ under the kernel's working directory
        timeout=1800,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (site / "api" / "index.html").read_text().count("ppl.infer") > 0
    for path in TUTORIALS:
        page = (site / "tutorials" / path.stem / "index.html").read_text()
        images = len(re.findall(r"<img[^>]+src=\"data:image/png;base64,", page))
        assert images >= len(figures(path)), f"{path.stem}: {images} images on the page"
