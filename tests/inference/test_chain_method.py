"""``chain_method``: chains vectorized, in parallel over devices, or one after another give the
same chains for a seed; what a backend or the visible devices cannot give warns and falls back."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ppl
from ppl.errors import OptionError

#: 40 steps of sgld are too few for its checks (R-hat, ESS): these tests compare layouts, not fits
pytestmark = pytest.mark.filterwarnings("ignore::ppl.errors.UntrustedResultWarning")
ROOT = pathlib.Path(__file__).resolve().parents[2]
Y = np.random.default_rng(0).normal(1.0, 2.0, size=30)
#: a fixed step size: sgld's "auto" step runs a MAP search first, which these tests do not need
SGLD = dict(num_warmup=20, num_samples=20, step_size=0.0005, num_chains=4)


def model(y):
    mu = ppl.sample("mu", ppl.dist.Normal(0.0, 1.0))
    s = ppl.sample("s", ppl.dist.HalfNormal(1.0))
    with ppl.plate("data", y.shape[0]):
        ppl.sample("y", ppl.dist.Normal(mu, s), obs=y)


def _draws(backend, chain_method):
    post = ppl.infer(model, "sgld", args=(Y,), backend=backend, seed=1, progress=False,
                     chain_method=chain_method, **SGLD)  # fmt: skip
    return post.samples["mu"]


def test_a_misspelt_chain_method_is_refused_with_the_choices():
    with pytest.raises(OptionError, match="Did you mean 'parallel'"):
        ppl.infer(model, "sgld", args=(Y,), chain_method="paralel", **SGLD)


def test_the_layouts_give_the_same_chains_for_a_seed(backend):
    # step t of chain c takes the same key in every layout; XLA vectorizes a batch of four
    # chains differently from one, so float32 results agree to rounding (1e-6), not bitwise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallbacks' warnings: tested below
        runs = {m: _draws(backend.name, m) for m in ("vectorized", "parallel", "sequential")}
    assert runs["sequential"].shape == (4, 20)
    assert np.ptp(runs["sequential"][:, -1]) > 0  # four different chains
    for method, draws in runs.items():
        np.testing.assert_allclose(draws, runs["sequential"], atol=1e-6, err_msg=method)


def test_parallel_with_one_device_warns_and_names_the_fix():
    # (Pyro runs parallel chains in worker processes instead: tested below)
    with pytest.warns(UserWarning, match="chain_method='parallel'") as caught:
        _draws("numpyro", "parallel")
    message = str(caught[0].message)
    assert "device" in message and "XLA_FLAGS" in message


@pytest.fixture
def forks(monkeypatch):
    """The chain groups that ran in forked workers, as the parent saw them."""
    from ppl.inference import chain_processes

    calls, run_forked = [], chain_processes.run_forked

    def counting(fn, count):
        calls.append(count)
        return run_forked(fn, count)

    monkeypatch.setattr(chain_processes, "run_forked", counting)
    return calls


def test_parallel_on_pyro_runs_a_worker_per_chain_with_the_sequential_draws(forks):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="chain_method")  # no fallback
        parallel = ppl.infer(model, "nuts", args=(Y,), backend="pyro", seed=2, num_warmup=15,
                             num_samples=10, num_chains=2, chain_method="parallel",
                             progress=False)  # fmt: skip
    sequential = ppl.infer(model, "nuts", args=(Y,), backend="pyro", seed=2, num_warmup=15,
                           num_samples=10, num_chains=2, chain_method="sequential",
                           progress=False)  # fmt: skip
    assert forks == [2]
    for name in ("mu", "s"):  # the same keys per chain, one chain per worker: bitwise
        np.testing.assert_array_equal(parallel.samples[name], sequential.samples[name])
    for name, value in sequential.sample_stats.items():
        np.testing.assert_array_equal(parallel.sample_stats[name], value)
    assert np.ptp(parallel.samples["mu"][:, -1]) > 0  # two different chains


def test_an_error_in_a_chain_worker_is_raised_in_the_caller(monkeypatch, forks):
    from ppl.inference import driver

    def fail(group, steps_done):
        raise ValueError(f"chain {group} failed at {steps_done}")

    monkeypatch.setattr(driver, "after_chunk", fail)
    with pytest.raises(ValueError, match="chain 0 failed at 40"):
        _draws("pyro", "parallel")
    assert forks == [4]


def test_parallel_with_checkpoints_on_pyro_runs_one_chain_after_another(tmp_path, forks):
    with pytest.warns(UserWarning, match="cannot write one checkpoint together"):
        ppl.infer(model, "sgld", args=(Y,), backend="pyro", seed=1, progress=False,
                  chain_method="parallel", checkpoint_every=20,
                  checkpoint_path=str(tmp_path / "run.ckpt"), **SGLD)  # fmt: skip
    assert forks == []


def test_vectorized_on_a_backend_that_cannot_map_models_warns():
    with pytest.warns(UserWarning, match="cannot map a model over chains"):
        _draws("pyro", "vectorized")


CHILD = """
import warnings, numpy as np, jax
from tests.inference.test_chain_method import _draws
assert len(jax.devices()) == 4, jax.devices()
with warnings.catch_warnings():
    warnings.filterwarnings("error", message="chain_method")  # parallel must not fall back
    parallel = _draws("numpyro", "parallel")
vectorized = _draws("numpyro", "vectorized")
np.testing.assert_allclose(parallel, vectorized, atol=1e-6)
print("ok", float(np.ptp(parallel[:, -1])))
"""


def test_parallel_chains_run_one_per_host_device():
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("ok")
