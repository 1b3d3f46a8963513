"""``ppl compare``'s runs through Ray (a local cluster of 2 CPUs, where Ray is installed) give
the results the local executor gives; without Ray, asking for it names the install line."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

import ppl.models
from ppl.cli import main
from ppl.compare import compare
from ppl.errors import OptionError

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: two quick runs of a small logistic regression (a fixed step size: no MAP search first;
#: too few steps for the samplers' own checks, whose warnings are ignored below)
RUNS = dict(methods=["sgld", "sghmc"], backends=["numpyro"], seed=3,
            options={"num_warmup": 50, "num_samples": 50, "step_size": 1e-3})  # fmt: skip


def _compare(executor):
    spec = ppl.models.get("logistic_regression")
    return compare(spec, RUNS["methods"], RUNS["backends"], RUNS["options"], RUNS["seed"],
                   progress=False, executor=executor)  # fmt: skip


@pytest.mark.filterwarnings("ignore")  # Ray's own warnings; the short runs' checks
def test_ray_runs_give_what_the_local_executor_gives(monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the workers import this checkout's ppl
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = _compare("ray")
    finally:
        ray.shutdown()
    local = _compare("local")
    assert [(r.method, r.backend, r.error) for r in remote] == [
        (r.method, r.backend, "") for r in local
    ]
    for here, there in zip(local, remote):  # each run takes its own seed: the same numbers
        for site, values in here.posterior.samples.items():
            np.testing.assert_array_equal(there.posterior.samples[site], values, err_msg=site)


def test_without_ray_the_ray_executor_names_the_install_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # ``import ray`` fails as if absent
    with pytest.raises(OptionError, match=r"pip install ppl\[ray\]"):
        _compare("ray")
    assert main(["compare", "sblrc-blr", "--methods", "svi", "--executor", "ray"]) == 2
    assert "pip install ppl[ray]" in capsys.readouterr().err


def test_an_unknown_executor_is_refused_with_the_choices():
    with pytest.raises(OptionError, match="Did you mean 'ray'"):
        _compare("rya")
