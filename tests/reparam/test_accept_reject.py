"""``AcceptReject`` (Naesseth et al. 2017) gives unbiased ELBO gradients on both backends, SVI
with it reaches the exact posterior, and bad input gets a clear error.

Unbiasedness: the Gamma-Poisson ELBO gradient is closed form (``ppl.inference.gradcheck``); the
mean of 20,000 single-particle estimates, computed by the backend's own ELBO in one batched
pass, must lie within 3 standard errors of it (the issue's criterion: a correct estimator fails
one check with probability 0.3%, the seeds are fixed). A missing correction term is off by far
more (``test_the_correction_term_is_needed``).
"""

from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl import dist, handlers, ops
from ppl.errors import HandlerError, OptionError
from ppl.inference.gradcheck import (
    elbo_gradient,
    gradient_draws,
    noise_estimate,
    quadrature_gradient,
)
from ppl.models.conjugate import dirichlet_multinomial, dirichlet_multinomial_posterior
from ppl.reparam import AcceptReject

COUNTS = np.random.default_rng(0).poisson(3.0, size=10).astype(float)
DRAWS = 20_000


# (alpha 0.5, boost 0) is left out: without a boost, at alpha <= 2/3 the estimator has infinite
# variance (near the proposal's boundary t = 1 + c eps -> 0 the estimate grows like log(t) / t
# while the noise density vanishes like t^(3 alpha - 1)), so a standard error means nothing
# there; its sample mean converges slowly (at 10^6 draws still 45% off). Boost >= 1 is the
# remedy. That it is heavy tails and not a bug is shown without Monte Carlo below: the backends'
# estimate equals the hand-written one pointwise, whose exact expectation (quadrature) is the
# closed-form gradient, and whose second moment diverges at t = 0.
CASES = [(a, b) for a in (0.5, 1.5, 3.0, 10.0) for b in (0, 1, 3) if (a, b) != (0.5, 0)]


@pytest.mark.parametrize("alpha, boost", CASES)
def test_gradient_is_unbiased(backend, float64, alpha, boost):
    beta = alpha / 3.0
    draws = gradient_draws(AcceptReject(boost), alpha, beta, COUNTS, DRAWS, seed=1)
    exact = elbo_gradient(alpha, beta, COUNTS)
    error = np.abs(draws.mean(0) - exact)
    standard_error = draws.std(0) / np.sqrt(DRAWS)
    assert np.all(error < 3 * standard_error), (error / standard_error, exact)


@pytest.mark.parametrize("alpha", [0.5, 1.5])
def test_backend_estimate_is_the_hand_written_one_at_given_noise(backend, float64, alpha):
    # The same estimator evaluated two ways at the same noise (the proposal site fixed at
    # h(eps) for t = 1 + eps / sqrt(9 d) from 1e-3 to 2.5): float64 rounding only, measured
    # at 3e-14 (relative to |estimate| + 1) on both backends; 1e-9 leaves room for libm.
    t = np.concatenate([[1e-3, 1e-2], np.linspace(0.05, 2.5, 30)])
    beta, d = alpha / 3.0, alpha - 1.0 / 3.0
    values = {"lam_proposal": (d * t**3)[:, None]}
    draws = gradient_draws(AcceptReject(0), alpha, beta, COUNTS, len(t), seed=0, values=values)
    by_hand = noise_estimate(t, alpha, beta, COUNTS)
    assert np.max(np.abs(draws - by_hand) / (np.abs(by_hand) + 1.0)) < 1e-9


@pytest.mark.parametrize("alpha", [0.5, 1.5, 3.0, 10.0])
def test_exact_expectation_by_quadrature_is_the_elbo_gradient(alpha):
    # Deterministic: quad's relative tolerance is 1e-12 (measured agreement 4e-14 at alpha 0.5);
    # 1e-6 relative to the d/dalpha scale. d/dbeta is 0 at beta = alpha/3 (the rate that makes
    # the guide mean the posterior mean): compared on the scale of |d/dalpha|.
    beta = alpha / 3.0
    exact = elbo_gradient(alpha, beta, COUNTS)
    quadrature = quadrature_gradient(alpha, beta, COUNTS)
    assert np.all(np.abs(quadrature - exact) < 1e-6 * np.abs(exact[0])), (quadrature, exact)


def test_boost_zero_second_moment_diverges_at_small_alpha():
    # E[estimate^2; t > lower] grows like lower^(3 alpha - 2) (times log^2) as lower -> 0 when
    # alpha < 2/3: at alpha 0.5 a factor ~100 x 4 from lower 1e-4 to 1e-8 (measured 666). At
    # alpha 1.5 it converges (the noise below t = 1e-6 adds 7e-12 of it, measured). Thresholds
    # 10x and 1e-6 sit far from both.
    def second_moment(alpha, lower):
        return quadrature_gradient(alpha, alpha / 3.0, COUNTS, power=2, lower=lower)[0]

    assert second_moment(0.5, 1e-8) > 10 * second_moment(0.5, 1e-4)
    assert abs(second_moment(1.5, 1e-8) / second_moment(1.5, 1e-6) - 1) < 1e-6


def test_the_correction_term_is_needed(float64):
    # NumPyro's Trace_ELBO has no score-function terms: it keeps only the reparameterization
    # term, which is biased without boost: -10.1 against the exact -8.45 at alpha 1.5 (8 standard
    # errors of 0.2); a test at 5 standard errors tells it from an unbiased estimator.
    with ppl.backend("numpyro"):
        draws = gradient_draws(AcceptReject(0), 1.5, 0.5, COUNTS, DRAWS, seed=1, objective="elbo")
    exact = elbo_gradient(1.5, 0.5, COUNTS)
    assert abs(draws[:, 0].mean() - exact[0]) > 5 * draws[:, 0].std() / np.sqrt(DRAWS)


def test_pyro_trace_elbo_gets_the_correction_through_score_parts(float64):
    with ppl.backend("pyro"):
        draws = gradient_draws(AcceptReject(0), 1.5, 0.5, COUNTS, DRAWS, seed=2, objective="elbo")
    exact = elbo_gradient(1.5, 0.5, COUNTS)
    assert np.all(np.abs(draws.mean(0) - exact) < 3 * draws.std(0) / np.sqrt(DRAWS))


@pytest.mark.parametrize(
    "make, mean",
    [
        (lambda: dist.Gamma(0.3, 2.0), 0.15),
        (lambda: dist.Beta(0.5, 1.5), 0.25),
        (lambda: dist.Dirichlet(ops.asarray([0.2, 1.0, 3.0])), np.array([0.2, 1.0, 3.0]) / 4.2),
    ],
    ids=["gamma", "beta", "dirichlet"],
)
def test_draws_have_the_site_distribution(backend, make, mean):
    def guide():
        with ppl.plate("draws", 20_000, dim=-1 - len(make().event_shape)):
            ppl.sample("x", make())

    guide = handlers.reparam(guide, config={"x": AcceptReject(boost=1)})
    tr = handlers.trace(handlers.seed(guide, rng_seed=0)).get_trace()
    x = ops.to_numpy(tr["x"].value).reshape(20_000, -1)
    # The variance of each coordinate is below 0.2 here: the sample mean's sd is below
    # sqrt(0.2 / 20,000) = 0.0032; 5 sd.
    assert np.all(np.abs(x.mean(0) - np.atleast_1d(mean)) < 0.016)


def test_a_normal_site_is_refused_with_the_site_and_the_families(backend):
    def guide():
        ppl.sample("loc", dist.Normal(0.0, 1.0))

    guide = handlers.reparam(guide, config={"loc": AcceptReject(boost=1)})
    with pytest.raises(HandlerError, match=r"site 'loc'.*Normal.*Gamma, Beta, Dirichlet"):
        handlers.seed(guide, rng_seed=0)()


def test_boost_zero_below_a_third_is_refused(backend):
    def guide():
        ppl.sample("rate", dist.Gamma(0.2, 1.0))

    guide = handlers.reparam(guide, config={"rate": AcceptReject(boost=0)})
    with pytest.raises(HandlerError, match=r"'rate'.*boost >= 1"):
        handlers.seed(guide, rng_seed=0)()


# ---- SVI ---------------------------------------------------------------------------------
def gamma_poisson(counts):
    lam = ppl.sample("lam", dist.Gamma(1.0, 1.0))
    with ppl.plate("data", counts.shape[0]):
        ppl.sample("counts", dist.Poisson(lam), obs=counts)


def gamma_guide(counts):
    a = ppl.param("a", 1.0, constraint=dist.constraints.positive)
    b = ppl.param("b", 1.0, constraint=dist.constraints.positive)
    ppl.sample("lam", dist.Gamma(a, b))


@pytest.mark.slow  # Pyro's TraceGraph_ELBO: 3000 steps x 4 particles take ~160 s on 2 cores
def test_svi_reaches_the_exact_gamma_posterior(backend):
    post = ppl.infer(
        gamma_poisson,
        "svi",
        args=(COUNTS,),
        backend=backend.name,
        guide=gamma_guide,
        estimator={"lam": "accept_reject"},
        init="median",
        num_steps=3000,
        num_particles=4,
        lr=0.1,
        lr_decay=0.005,
        tol=0,
        num_samples=20_000,
        progress=False,
    )
    exact = (1 + COUNTS.sum()) / (1 + len(COUNTS))
    # The posterior sd is sqrt(33) / 11 = 0.52 (17% of the mean): the mean of 20,000 guide draws
    # has MC error 0.12%; the rest of the 2% (the issue's criterion) is the optimiser's noise,
    # which the rate decaying to 5e-4 keeps small (at a final rate 1e-2 NumPyro's last iterate
    # was 4% off with either estimator).
    assert abs(post.samples["lam"].mean() / exact - 1) < 0.02


def issue_guide(counts):
    a = ppl.param("a", 2.0, constraint=dist.constraints.positive)
    b = ppl.param("b", 1.0, constraint=dist.constraints.positive)
    ppl.sample("lam", dist.Gamma(a, b))


@pytest.mark.parametrize(
    "backend_name",
    # Pyro: 1,500 steps of its Trace_ELBO and 2,000 guide draws, ~15 s on an idle 2-core machine
    ["numpyro", pytest.param("pyro", marks=pytest.mark.slow)],
)
def test_svi_learns_through_handlers_reparam(backend_name):
    # Issue 24 item 2: the guide reparameterized by handlers.reparam (not the estimator= path),
    # started at Gamma(2, 1). On Pyro the gradients were clamped to [-10, 10] (ClippedAdam),
    # which biases these noisy, skewed estimates: with these options the old code ended at mean
    # +18.5% and sd +325% (measured), further from the posterior than the start (sd +170%).
    guide = handlers.reparam(issue_guide, config={"lam": AcceptReject(boost=1)})
    post = ppl.infer(
        gamma_poisson,
        "svi",
        args=(COUNTS,),
        backend=backend_name,
        guide=guide,
        num_steps=1500,
        lr=0.05,
        tol=0,
        num_samples=2000,
        progress=False,
    )
    shape, rate = 1 + COUNTS.sum(), 1 + len(COUNTS)  # the exact posterior Gamma(33, 11)
    draws = post.samples["lam"].reshape(-1)
    mean_err = draws.mean() / (shape / rate) - 1
    sd_err = draws.std() / (np.sqrt(shape) / rate) - 1
    # Monte Carlo error of 2,000 guide draws: 0.3% on the mean (sd 0.52 / sqrt(2000) / 3), 1.6%
    # on the sd. The rest is the fit's own distance after 1,500 steps: the mean is found fast,
    # the sd is approached from above along the ELBO's flat ridge; measured now: mean within
    # 4.0% and sd +51% to +60% (NumPyro, seeds 0-3), mean +2.1% and sd +53% (Pyro, seed 0).
    # Thresholds: mean 8% and sd +100%, twice the measured error, far below the old Pyro result.
    assert abs(mean_err) < 0.08, mean_err
    assert abs(sd_err) < 1.0, sd_err


def test_svi_estimator_option_errors(backend):
    common = dict(args=(COUNTS,), backend=backend.name, num_steps=2, progress=False)
    with pytest.raises(OptionError, match="Did you mean 'accept_reject'"):
        ppl.infer(
            gamma_poisson, "svi", guide=gamma_guide, estimator={"lam": "accept_rej"}, **common
        )
    with pytest.raises(OptionError, match=r"site 'lamb'.*Did you mean 'lam'"):
        ppl.infer(gamma_poisson, "svi", guide=gamma_guide, estimator={"lamb": "score"}, **common)
    with pytest.raises(OptionError, match="guide function"):
        ppl.infer(gamma_poisson, "svi", estimator={"lam": "score"}, **common)
    with pytest.raises(OptionError, match="score-function terms"):
        ppl.infer(
            gamma_poisson,
            "svi",
            guide=gamma_guide,
            objective="renyi",
            estimator={"lam": "accept_reject"},
            **common,
        )


# ---- Dirichlet-multinomial: K=100 categories, N=100 draws, alpha0 = 1 (issue 6) ----------------
K_CATEGORIES, N_DRAWS = 100, 100
_rng = np.random.default_rng(0)
DM_COUNTS = _rng.multinomial(N_DRAWS, _rng.dirichlet(np.ones(K_CATEGORIES)))[None].astype(float)


def dirichlet_guide(counts, alpha, total_count):
    c = ppl.param("concentration", np.ones(K_CATEGORIES), constraint=dist.constraints.positive)
    ppl.sample("probs", dist.Dirichlet(c))


@pytest.mark.filterwarnings("ignore:svi. the stop rule")  # tol=0: the fixed budget runs
@pytest.mark.parametrize(
    "backend_name",
    # NumPyro: ~20 s under load, nearly all of it XLA compilation; Pyro's TraceGraph_ELBO: ~30 s
    ["numpyro", pytest.param("pyro", marks=pytest.mark.slow)],
)
def test_svi_reaches_the_exact_dirichlet_posterior(backend_name):
    alpha0 = np.ones(K_CATEGORIES)
    post = ppl.infer(
        dirichlet_multinomial,
        "svi",
        args=(DM_COUNTS, alpha0, N_DRAWS),
        backend=backend_name,
        guide=dirichlet_guide,
        estimator={"probs": "accept_reject"},
        init="median",
        num_steps=1000,
        lr=0.1,
        lr_decay=0.01,
        tol=0,
        num_samples=20_000,
        progress=False,
    )
    mean, sd, _ = dirichlet_multinomial_posterior(DM_COUNTS, alpha0)  # Dirichlet(1 + counts)
    draws = post.samples["probs"].reshape(-1, K_CATEGORIES)
    error = np.abs(draws.mean(0) - mean) / sd
    sd_ratio = draws.std(0) / sd
    # The guide family holds the exact posterior, so what is left is the optimiser's noise (the
    # mean of 20,000 guide draws adds 0.007 sd). The starting guide Dirichlet(1, ..., 1) is off by
    # 1.66 sd at most and 0.70 on average, and its sd is 0.8-2x the posterior's; after 1000
    # steps the measured errors were 0.48 / 0.09 (NumPyro) and 0.26 / 0.07 (Pyro), sd ratio
    # 0.76-1.12. The thresholds lie between the two: max 0.75 sd, mean 0.25 sd, sd within 30%.
    assert error.max() < 0.75 and error.mean() < 0.25, (error.max(), error.mean())
    assert np.all(np.abs(sd_ratio - 1) < 0.3), (sd_ratio.min(), sd_ratio.max())
