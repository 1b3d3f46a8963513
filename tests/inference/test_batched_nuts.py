"""``chain_method="vectorized"`` for ``nuts`` on Pyro: all chains' trees built in lockstep
(``ppl.backends.pyro.batched_nuts``) draw from the right posterior, adapt per chain, and a model
whose potential cannot be vmapped falls back to Pyro's own kernel one chain after another."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import arviz as az
import numpy as np
import pytest

import ppl
from ppl.backends import get_backend
from ppl.backends.pyro.batched_nuts import _checkpoints
from ppl.inference import chains

#: 150 warmup steps are short for R-hat/ESS checks on 4 chains; the tests check the draws
pytestmark = pytest.mark.filterwarnings("ignore::ppl.errors.UntrustedResultWarning")
RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 2)) @ np.array([[1.0, 0.8], [0.0, 0.6]])  # correlated columns
Y = X @ np.array([1.0, -0.5]) + RNG.normal(0.0, 1.0, size=40)
SIGMA, PRIOR = 1.0, 2.0


def regression(x, y):
    beta = ppl.sample("beta", ppl.dist.Normal(0.0, PRIOR).expand([2]).to_event(1))
    with ppl.plate("data", x.shape[0]):
        ppl.sample("y", ppl.dist.Normal(x @ beta, SIGMA), obs=y)


def _exact():
    """The conjugate posterior of ``regression``: N(mean, cov)."""
    precision = X.T @ X / SIGMA**2 + np.eye(2) / PRIOR**2
    cov = np.linalg.inv(precision)
    return cov @ X.T @ Y / SIGMA**2, cov


def _run(**kwargs):
    return ppl.infer(regression, "nuts", args=(X, Y), backend="pyro", seed=3, progress=False,
                     num_chains=4, chain_method="vectorized", num_warmup=150, num_samples=200,
                     **kwargs)  # fmt: skip


@pytest.mark.parametrize("dense_mass", [False, True])
def test_vectorized_chains_draw_the_conjugate_posterior(dense_mass):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no fallback to the sequential kernel
        post = _run(dense_mass=dense_mass)
    beta = np.asarray(post.samples["beta"], dtype=np.float64)  # (chain, draw, 2)
    mean, cov = _exact()
    for i in range(2):
        ess = float(az.ess(beta[..., i]))
        sd = np.sqrt(cov[i, i])
        assert ess > 100, ess  # the bounds below rest on the ESS
        # the Monte Carlo standard error of the mean is sd / sqrt(ESS), of the sd about
        # sd / sqrt(2 ESS); 4 of them bound a miss at ~6e-5 per check
        assert abs(beta[..., i].mean() - mean[i]) < 4 * sd / np.sqrt(ess)
        assert abs(beta[..., i].std() - sd) < 4 * sd / np.sqrt(2 * ess)
    # per-chain adaptation: each chain has its own step size, and its mean acceptance after
    # warmup is near the 0.8 target (dual averaging ends at its average iterate, which
    # typically lands between 0.65 and 0.95 on a Gaussian)
    steps = np.asarray(post.sample_stats["step_size"])[:, -1]
    accept = np.asarray(post.sample_stats["accept_prob"]).mean(axis=1)
    assert len(set(steps.tolist())) == 4 and np.all((steps > 0.05) & (steps < 3.0)), steps
    assert np.all((accept > 0.6) & (accept < 0.97)), accept
    assert not np.asarray(post.sample_stats["diverging"]).any()


def test_a_potential_that_cannot_be_vmapped_is_refused_with_the_cause():
    import torch

    from ppl.backends.pyro.batched_nuts import batched_nuts_kernel
    from ppl.inference.mcmc import nuts

    def potential(z):  # Python control flow on the point: vmap cannot map it
        return (z**2).sum() if float(z[0]) > 0 else z.abs().sum()

    problem = SimpleNamespace(potential=potential, init=lambda key, strategy: torch.ones(2))
    with pytest.raises(NotImplementedError, match="cannot be vectorised with torch.func.vmap"):
        batched_nuts_kernel(problem, nuts.Options())


def test_vectorized_chains_that_cannot_be_batched_run_one_after_another_with_a_warning():
    def vectorized():
        raise NotImplementedError("its potential cannot be vectorised (the cause)")

    backend = get_backend("pyro")
    with pytest.warns(UserWarning, match=r"cannot map a model over chains \(its potential"):
        layout = chains.plan(backend, "vectorized", None, 4, vectorized)
    assert layout == chains.ChainPlan(False)


def test_checkpoints_of_the_iterative_tree_are_numpyros():
    # leaf n (0-based) of a subtree closes the subtrees that end at it: an odd leaf checks
    # against the checkpoints of the left halves it completes (NumPyro's _leaf_idx_to_ckpt_idxs)
    assert [_checkpoints(n) for n in range(8)] == [
        (1, 0), (0, 0), (2, 1), (0, 1), (2, 1), (1, 1), (3, 2), (0, 2)
    ]  # fmt: skip


@pytest.fixture
def one_thread():
    """torch on one thread: Pyro's own kernel on a loaded 2-core machine runs ~8x slower with
    two intra-op threads fighting for the cores (60 s against 8 s for 600 steps, measured)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_vectorized_chains_match_pyros_own_nuts_on_logistic_regression(one_thread):
    spec = ppl.models.get("logistic_regression")
    common = dict(args=spec.args, kwargs=spec.kwargs, backend="pyro", progress=False,
                  num_warmup=300, num_samples=300)  # fmt: skip
    mine = ppl.infer(spec.model, "nuts", seed=1, num_chains=4, chain_method="vectorized",
                     **common)  # fmt: skip
    pyros = ppl.infer(spec.model, "nuts", seed=2, num_chains=2, chain_method="sequential",
                      **common)  # fmt: skip
    for name, a in mine.samples.items():
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(pyros.samples[name], dtype=np.float64)
        a, b = a.reshape(a.shape[:2] + (-1,)), b.reshape(b.shape[:2] + (-1,))
        for i in range(a.shape[-1]):
            ess_a, ess_b = float(az.ess(a[..., i])), float(az.ess(b[..., i]))
            # two independent estimates of one posterior mean: their difference has standard
            # error sqrt(var_a / ESS_a + var_b / ESS_b); 4.5 of them bound a miss at ~7e-6
            # per check (~20 checks)
            se = np.sqrt(a[..., i].var() / ess_a + b[..., i].var() / ess_b)
            assert abs(a[..., i].mean() - b[..., i].mean()) < 4.5 * se, (name, i)
            ratio = a[..., i].std() / b[..., i].std()
            # the sds' ratio: relative errors 1 / sqrt(2 ESS) each
            assert abs(ratio - 1) < 4.5 * np.sqrt(1 / (2 * ess_a) + 1 / (2 * ess_b)), (name, i)


def test_vectorized_chains_resumed_mid_warmup_continue_their_adaptation(tmp_path, monkeypatch):
    # the state holds all of the adaptation as tensors (dual averaging, the dense Welford sums,
    # the step count that places it in the schedule): a run stopped inside the slow window
    # (steps 9-53 of 60) and resumed equals the uninterrupted one
    from ppl.inference import driver
    from tests.inference.test_checkpoint import Interrupt

    common = dict(args=(X, Y), backend="pyro", seed=2, num_warmup=60, num_samples=10,
                  num_chains=2, chain_method="vectorized", progress=False, dense_mass=True,
                  checkpoint_every=7)  # fmt: skip
    whole = ppl.infer(regression, "nuts", checkpoint_path=str(tmp_path / "w"), **common)
    path = str(tmp_path / "p")
    monkeypatch.setattr(driver, "after_chunk", Interrupt(at=35))
    assert ppl.infer(regression, "nuts", checkpoint_path=path, **common).partial
    monkeypatch.undo()
    resumed = ppl.infer(regression, "nuts", checkpoint_path=path, resume_from=path, **common)
    np.testing.assert_array_equal(resumed.samples["beta"], whole.samples["beta"])
    np.testing.assert_array_equal(
        resumed.sample_stats["step_size"], whole.sample_stats["step_size"]
    )
