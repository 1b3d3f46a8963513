"""The shared warm start (``ppl.inference.warm_start``): the diffusions and flows recover a
badly scaled posterior with their default start, the degenerate-start safeguard, and
``warm_start=False``."""

from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl import dist, models, ops
from ppl.inference.warm_start import HUTCHINSON_PROBES, describe, laplace_start

# a linear regression whose coefficients' posterior sds run from ~0.2 to ~200 (the columns of
# X are scaled by 1, 10^-1.5 and 10^-3), with its mean ~500 from the origin: known noise sd and
# a normal prior, so the posterior is the conjugate normal below
NOISE, PRIOR = 1.0, 1e4
_rng = np.random.default_rng(1)
X = _rng.normal(size=(20, 3)) * np.array([1.0, 10**-1.5, 1e-3])
Y = X @ np.array([1.0, -30.0, 500.0]) + NOISE * _rng.normal(size=20)
PRECISION = X.T @ X / NOISE**2 + np.eye(3) / PRIOR**2
COVARIANCE = np.linalg.inv(PRECISION)
MEAN = COVARIANCE @ X.T @ Y / NOISE**2
SD = np.sqrt(np.diag(COVARIANCE))


def regression(X, y):
    beta = ppl.sample("beta", dist.Normal(0.0, PRIOR).expand([3]).to_event(1))
    ppl.sample("y", dist.Normal(ops.matmul(X, beta), NOISE).to_event(1), obs=y)


EIGHT_SCHOOLS = models.get("eight_schools_centered")


def _weighted_moments(post):
    """Self-normalised importance-weighted mean and sd of ``beta``, and the weights' ESS."""
    w = np.asarray(post.diagnostics["log_weights"], dtype=np.float64)
    w = np.exp(w - w.max())
    w /= w.sum()
    beta = post.raw_samples["beta"][0].astype(np.float64)
    mean = w @ beta
    sd = np.sqrt(w @ (beta - mean) ** 2)
    return mean, sd, 1.0 / np.sum(w**2)


# small budgets; every other option is the default (warm_start=True)
BUDGETS = {
    "cmcd": {"K": 8, "num_steps": 30, "num_samples": 400},
    "realnvp": {"num_steps": 50, "num_samples": 400},
}


@pytest.mark.parametrize("method", ["cmcd", "realnvp"])
def test_defaults_recover_a_badly_scaled_regression(backend, method):
    post = ppl.infer(
        regression, method, args=(X, Y), backend=backend.name, seed=0, progress=False,
        **BUDGETS[method],
    )  # fmt: skip
    mean, sd, ess = _weighted_moments(post)
    # Tolerance from Monte Carlo error: with ESS effective draws the weighted mean's error is
    # ~sd / sqrt(ESS) per coordinate and the sd's relative error ~1 / sqrt(2 ESS); 4 of those
    # (3 coordinates, both backends: a false alarm below 1e-3). The posterior is Gaussian, so
    # the Laplace start is exact and the weights nearly equal: ESS at least a quarter of the
    # draws (from the prior, as before the warm start, the means are off by 20 to 1,700 sd and
    # the ESS is ~1).
    assert ess > 0.25 * len(post.diagnostics["log_weights"])
    np.testing.assert_array_less(np.abs(mean - MEAN) / SD, 4.0 / np.sqrt(ess))
    np.testing.assert_array_less(np.abs(sd / SD - 1.0), 4.0 / np.sqrt(2.0 * ess))
    assert post.timings["warm_start_seconds"] > 0
    assert post.diagnostics["warm_start"].startswith("Laplace")


def test_the_safeguard_falls_back_on_centred_eight_schools(backend):
    """The MAP search runs down the funnel's neck (tau -> 0), where the Hessian's curvature
    spans more than the precision resolves or vanishes: the start falls back, and says so."""
    problem = backend.problem(EIGHT_SCHOOLS.model, EIGHT_SCHOOLS.args, dict(EIGHT_SCHOOLS.kwargs))
    start = laplace_start(problem, backend.key(0), fallback_steps=100)
    assert int(start.fallback) > 0
    assert describe(start).startswith("fallback to mean-field VI")
    assert np.isfinite(backend.to_numpy(start.factor)).all()
    # the fallback's scales are the VI fit's, not the neck's: tau's log-scale sd is O(1)
    assert 0.05 < float(backend.to_numpy(start.factor)[1, 1]) < 5.0


NONCENTRED = models.get("eight_schools-eight_schools_noncentered")


def test_a_laplace_start_far_from_the_bulk_is_replaced(backend):
    """Non-centred eight schools: the joint MAP has tau ~ 29 (log tau 3.4, the Laplace sd 0.9
    there), the posterior's tau has mean 3.6 and sd 3.2. The Laplace draws' importance ESS is
    a few percent, and mean-field VI from the prior has the higher ELBO: it is kept, and said."""
    problem = backend.problem(NONCENTRED.model, NONCENTRED.args, dict(NONCENTRED.kwargs))
    start = laplace_start(problem, backend.key(0), fallback_steps=300)
    assert "far from the posterior's bulk" in describe(start)
    tau_index = problem.layout.names.index("tau")
    offsets = np.cumsum((0,) + problem.layout.sizes)
    log_tau = float(backend.to_numpy(start.shift)[offsets[tau_index]])
    # the reference posterior's log tau: median ~1.1, 10% and 90% quantiles ~ -0.3 and 2.1;
    # the MAP's 3.4 lies beyond them all
    assert -0.5 < log_tau < 2.2


def test_a_good_laplace_start_is_kept(backend):
    """A Gaussian posterior: the Laplace approximation is exact, its ESS ~1, no fallback."""
    problem = backend.problem(regression, (X, Y))
    start = laplace_start(problem, backend.key(0))
    assert int(start.fallback) == 0


@pytest.mark.slow  # a second MAP search down the neck; the safeguard itself is tested above
def test_the_fallback_is_reported_by_the_algorithm():
    post = ppl.infer(
        EIGHT_SCHOOLS.model, "ais", args=EIGHT_SCHOOLS.args, kwargs=dict(EIGHT_SCHOOLS.kwargs),
        K=4, num_samples=50, seed=0,
        progress=False, backend="numpyro",
    )  # fmt: skip
    assert post.diagnostics["warm_start"].startswith("fallback")
    assert post.timings["warm_start_seconds"] > 0


def test_the_diagonal_factor_above_the_dense_limit(float64):
    """Above ``max_dense_dim`` the factor is ``H_ii^-1/2``, ``H_ii`` from Hutchinson's estimate
    with its floor (``floored_curvature``, SG-MCMC's). On the regression (correlated columns:
    the estimate is noisy) each curvature is within 4 of the estimator's sds,
    ``sqrt(sum_{j != i} (H_ij h_j / h_i)^2 / probes)`` from the exact Hessian and the difference
    steps ``h`` (a 6e-5 chance each for a correct estimator; a fixed key), or at its floor of
    two standard errors, inside that band too (the standard error is the sd within ~35% at 64
    probes); on independent coordinates (a diagonal Hessian) the estimate is exact."""
    backend = ppl.get_backend("numpyro")
    problem = backend.problem(regression, (X, Y))
    start = laplace_start(problem, backend.key(0), max_dense_dim=2)
    factor = backend.to_numpy(start.factor)
    assert factor.shape == (3,) and int(start.fallback) == 0
    exact, h = np.diag(PRECISION), np.finfo(np.float64).eps ** (1 / 3) * np.maximum(1, abs(MEAN))
    weighted = PRECISION * h[None, :] / h[:, None]
    noise_sd = np.sqrt(((weighted**2).sum(1) - exact**2) / HUTCHINSON_PROBES)
    assert np.all(np.abs(factor**-2.0 - exact) < 4 * noise_sd + 1e-4 * exact), (factor, exact)
    assert noise_sd[2] > 0.3 * exact[2]  # not vacuous: the smallest curvature's is noisy
    np.testing.assert_allclose(backend.to_numpy(start.shift), MEAN, rtol=1e-4)
    dense = laplace_start(problem, backend.key(0))
    np.testing.assert_allclose(
        backend.to_numpy(dense.factor) @ backend.to_numpy(dense.factor).T, COVARIANCE, rtol=1e-4
    )
    scales = np.geomspace(0.01, 10.0, 5)
    independent = backend.problem(_independent, (scales,))
    start = laplace_start(independent, backend.key(0), max_dense_dim=2)
    np.testing.assert_allclose(backend.to_numpy(start.factor), scales, rtol=1e-4)


def _independent(scales):
    ppl.sample("x", dist.Normal(1.0, ops.asarray(scales)).to_event(1))


def shifted_normal():
    x = ppl.sample("x", dist.Normal(0.0, 3.0))
    ppl.factor("target", -0.5 * (x - 1.0) ** 2 - dist.Normal(0.0, 3.0).log_prob(x))


#: a shorter VI fit of q0 (Pyro runs it eagerly: 200 steps take minutes)
COLD = {"cmcd": {"vi_steps": 30}, "realnvp": {}}


# the flag's path is one for the diffusions and the flows: realnvp checks it in the default run,
# cmcd (12 s on NumPyro, its 8 VI starts compiled) with -m slow
@pytest.mark.parametrize("method", [pytest.param("cmcd", marks=pytest.mark.slow), "realnvp"])
def test_warm_start_false_is_the_start_from_the_prior(backend, method):
    """Without the warm start nothing of it is run or reported, and a well-scaled target (the
    posterior N(1, 1)) is still right: weighted mean within 4 / sqrt(ESS) sd, as above."""
    post = ppl.infer(
        shifted_normal, method, backend=backend.name, seed=0, progress=False,
        warm_start=False, **{**BUDGETS[method], **COLD[method]},
    )  # fmt: skip
    assert "warm_start_seconds" not in post.timings
    assert "warm_start" not in post.diagnostics
    w = np.asarray(post.diagnostics["log_weights"], dtype=np.float64)
    w = np.exp(w - w.max())
    w /= w.sum()
    mean = float(w @ post.raw_samples["x"][0])
    assert abs(mean - 1.0) < 4.0 / np.sqrt(1.0 / np.sum(w**2))


def test_sgmcmc_reports_its_warm_start(backend):
    """``step_size="auto"`` whitens with the shared warm start: its cost and kind are reported
    like the diffusions' and flows'."""
    post = ppl.infer(
        regression, "sgld", args=(X, Y), backend=backend.name, num_warmup=5, num_samples=5,
        progress=False,
    )  # fmt: skip
    assert post.timings["warm_start_seconds"] > 0
    assert post.diagnostics["warm_start"].startswith("Laplace")
