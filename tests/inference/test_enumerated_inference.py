"""Continuous algorithms on models with enumerated discrete sites, and the discrete draws.

References: ``MIXTURE_REFERENCE`` for the mixture, ``HMM_REFERENCE`` for the HMM (NumPyro's own
NUTS, which enumerates through its own ``initialize_model``, recorded by
``benchmarks/discrete_reference.py``); the HMM's states against forward-backward. Tolerances
are Monte Carlo errors: ``|mean - ref_mean| <= 5 * sqrt(se^2 + se_ref^2)`` with
``se = sd / sqrt(ESS)`` (a false alarm at 5 standard errors has probability ~6e-7 per
element, ~1e-5 over the elements compared).
The mixture's components are relabelled by their sorted locations in every draw (its prior is
exchangeable, so chains may settle on different labellings); the HMM's cyclic structure and
location priors tell its states apart.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm

import ppl
from ppl.models.hmm import HMM_REFERENCE, gaussian_hmm, hmm_data, hmm_transition
from ppl.models.mixture import MIXTURE_REFERENCE, gaussian_mixture_enum, mixture_data

from ..models.test_enumeration import hmm_forward

MIXTURE_Y = mixture_data()  # the spec's data, whose reference is MIXTURE_REFERENCE
HMM_Y = hmm_data(T=40)[0]


def relabel(samples):
    """The mixture's ``weights``, ``locs``, ``scales`` with components sorted by location."""
    order = np.argsort(samples["locs"], axis=-1)
    sites = ("weights", "locs", "scales")
    return {k: np.take_along_axis(samples[k], order, axis=-1) for k in sites}


def _moments(samples):
    """Per element: mean, and its Monte Carlo standard error ``sd / sqrt(ess)``."""
    out = {}
    for k, v in samples.items():
        flat = v.reshape(v.shape[0], v.shape[1], -1)
        ess = np.array([float(az.ess(flat[:, :, i])) for i in range(flat.shape[-1])])
        mean = flat.mean(axis=(0, 1))
        sd = flat.reshape(-1, flat.shape[-1]).std(axis=0)
        out[k] = (mean, sd / np.sqrt(ess), sd)
    return out


def assert_matches(samples, reference):
    got, ref = _moments(samples), _moments(reference)
    for k in reference:
        (m, se, _), (rm, rse, _) = got[k], ref[k]
        assert np.all(np.abs(m - rm) <= 5 * np.sqrt(se**2 + rse**2)), (k, m, rm, se, rse)


@pytest.mark.slow
def test_nuts_on_the_enumerated_mixture_matches_its_reference(backend):
    post = ppl.infer(gaussian_mixture_enum, "nuts", args=(MIXTURE_Y,), num_warmup=500,
                     num_samples=1000, num_chains=2, progress=False, seed=0)  # fmt: skip
    assert post.samples["z"].shape == (2, 1000, 200)
    got = _moments(relabel(post.samples))
    for k, ref in MIXTURE_REFERENCE.items():  # its MC error: sd / sqrt(3363), ESS >= 3363
        (m, se, _), rse = got[k], ref["sd"] / np.sqrt(3363)
        assert np.all(np.abs(m - ref["mean"]) <= 5 * np.sqrt(se**2 + rse**2)), (k, m, ref)


HMM_FULL = hmm_data()[0]  # T = 120: the data of HMM_REFERENCE
#: HMM_REFERENCE's smallest ESS (NumPyro's own NUTS, 2 x 2,000 draws): its MC error sd / sqrt
HMM_REFERENCE_ESS = 4874


def _hmm_states_tv(samples, y):
    """Per step, the total variation between the drawn states' frequencies and the average
    forward-backward marginals at the same continuous draws."""
    n = samples["scale"].size
    states = np.stack([samples[f"x_{t}"].reshape(n) for t in range(len(y))], axis=1)
    freq = np.stack([(states == k).mean(axis=0) for k in range(3)], axis=1)
    stay, locs = samples["stay"].reshape(n, 3), samples["locs"].reshape(n, 3)
    scale = samples["scale"].reshape(n)
    exact = np.mean([_forward_backward(y, stay[i], locs[i], scale[i]) for i in range(n)], 0)
    return 0.5 * np.abs(freq - exact).sum(axis=1)


def assert_hmm_reference(samples, factor=5.0):
    """Means within ``factor`` Monte Carlo standard errors of ``HMM_REFERENCE``'s."""
    got = _moments({k: samples[k] for k in HMM_REFERENCE})
    for k, ref in HMM_REFERENCE.items():
        (m, se, _), rse = got[k], ref["sd"] / np.sqrt(HMM_REFERENCE_ESS)
        assert np.all(np.abs(m - ref["mean"]) <= factor * np.sqrt(se**2 + rse**2)), (k, m, ref)


@pytest.mark.slow
def test_nuts_on_the_hmm_recovers_the_reference_and_the_states(backend):
    # float32, seed 3: before Problem.init checked the gradient, one of these two chains
    # started where the funsor contraction's gradient is NaN and never moved (ESS 3, means up
    # to 19 sd off). Started at the priors' locations, as tutorial 08 does: the cyclic
    # structure has rotated-label local modes. Means: 5 MC standard errors of both runs. The
    # states are drawn per draw from p(x | y, params), independently given the draws, so their
    # frequency has an sd of at most 0.5 / sqrt(n) (0.011 at n = 2000) around the average
    # forward-backward marginal: a total variation over 0.05 is a > 4.5-sigma event.
    post = ppl.infer(gaussian_hmm, "nuts", args=(HMM_FULL,), num_warmup=500, num_samples=1000,
                     num_chains=2, chain_method="sequential", progress=False, seed=3,
                     init_values={"locs": np.array([-2.5, 0.0, 2.5])})  # fmt: skip
    assert post.sample_stats["diverging"].mean() < 0.01
    assert_hmm_reference(post.samples)
    assert _hmm_states_tv(post.samples, HMM_FULL).max() <= 0.05


@pytest.mark.parametrize(
    "backend", ["numpyro", pytest.param("pyro", marks=pytest.mark.slow)], indirect=True
)  # Pyro's draws of the 200 assignments loop over the 1,000 draws
def test_svi_on_the_enumerated_mixture(backend):
    # a Gaussian guide is not the posterior: its means are held to 0.5 posterior sd of the
    # reference (a variational error, not a Monte Carlo one)
    post = ppl.infer(gaussian_mixture_enum, "svi", args=(MIXTURE_Y,), num_steps=1500,
                     progress=False, seed=0)  # fmt: skip
    got = _moments(relabel(post.samples))
    for k, ref in MIXTURE_REFERENCE.items():
        assert np.all(np.abs(got[k][0] - ref["mean"]) <= 0.5 * ref["sd"]), (k, got[k][0], ref)
    # the assignments: drawn per draw from p(z | y, params), so their frequencies estimate the
    # average responsibilities at the same draws; per point and state an sd of at most
    # 0.5 / sqrt(1000) = 0.016, so a total variation over 0.1 at any of the 200 points would be
    # a > 3-sigma error in two states at once
    assert post.samples["z"].shape == (1, 1000, 200)
    assert post.to_arviz().posterior["z"].shape == (1, 1000, 200)
    w, loc, sc = (post.samples[k][0] for k in ("weights", "locs", "scales"))
    log_r = np.log(w[:, None, :]) + norm(loc[:, None, :], sc[:, None, :]).logpdf(
        MIXTURE_Y[None, :, None]
    )
    exact = np.exp(log_r - logsumexp(log_r, axis=-1, keepdims=True)).mean(axis=0)
    freq = np.stack([(post.samples["z"][0] == k).mean(axis=0) for k in range(3)], axis=-1)
    assert 0.5 * np.abs(freq - exact).sum(axis=-1).max() <= 0.1


def _forward_backward(y, stay, locs, scale):
    """``P(x_t = k | y, params)`` by the forward-backward algorithm, in numpy."""
    log_z, log_alpha = hmm_forward(y, stay, locs, scale)
    with np.errstate(divide="ignore"):
        log_trans = np.log(hmm_transition(np.asarray(stay)))
    log_emit = norm(locs, scale).logpdf(y[:, None])
    log_beta = np.zeros_like(log_alpha)
    for t in range(len(y) - 2, -1, -1):
        log_beta[t] = logsumexp(log_trans + log_emit[t + 1] + log_beta[t + 1], axis=1)
    return np.exp(log_alpha + log_beta - log_z)


@pytest.mark.slow
def test_pyro_draws_of_a_shorter_hmm_match_forward_backward(float64):
    # Pyro on T = 40 (Pyro's NUTS on T = 120 takes long): the states' frequencies against the
    # average forward-backward marginals at the same draws; per (t, k) an sd of at most
    # 0.5 / sqrt(400) = 0.025, so 0.05 total variation (one state off by 0.05) is 2 sigma at
    # worst, ~4 sigma at the marginals' typical 0.1 / 0.9 split
    with ppl.backend("pyro"):
        post = ppl.infer(gaussian_hmm, "nuts", args=(HMM_Y,), num_warmup=200, num_samples=200,
                         num_chains=2, progress=False, seed=0)  # fmt: skip
    assert _hmm_states_tv(post.samples, HMM_Y).max() <= 0.05


@pytest.mark.slow
def test_svi_on_the_hmm_recovers_the_reference_and_the_states(backend):
    # a Gaussian guide: its means within 0.5 posterior sd of the reference (a variational
    # error); the states are drawn exactly given each guide draw, so their frequencies match the
    # average forward-backward marginals at the same draws as for NUTS (0.05 is > 4.5 sigma)
    post = ppl.infer(gaussian_hmm, "svi", args=(HMM_FULL,), num_steps=1500, progress=False,
                     seed=0, init_values={"locs": np.array([-2.5, 0.0, 2.5])})  # fmt: skip
    got = _moments({k: post.samples[k] for k in HMM_REFERENCE})
    for k, ref in HMM_REFERENCE.items():
        assert np.all(np.abs(got[k][0] - ref["mean"]) <= 0.5 * ref["sd"]), (k, got[k][0], ref)
    assert _hmm_states_tv(post.samples, HMM_FULL).max() <= 0.05


SHORT_Y = HMM_Y[:6]
SHORT_PARAMS = {"stay": np.array([0.7, 0.9, 0.6]), "locs": np.array([-1.5, 0.3, 2.2]),
                "scale": np.array(0.9)}  # fmt: skip


def _short_draws(backend, temperature, n):
    problem = backend.problem(gaussian_hmm, (SHORT_Y,))
    values = {k: backend.asarray(v) for k, v in SHORT_PARAMS.items()}
    z = problem.unconstrain(values)
    zs = backend.xp.broadcast_to(z, (n, problem.dim))
    draws = problem.sample_discrete(zs, backend.key(1), temperature)
    return np.stack([backend.to_numpy(draws[f"x_{t}"]) for t in range(len(SHORT_Y))], axis=1)


@pytest.mark.parametrize(
    "backend", ["numpyro", pytest.param("pyro", marks=pytest.mark.slow)], indirect=True
)  # Pyro's infer_discrete loops over the draws: ~70 s on the shared machine
def test_drawn_states_match_forward_backward(backend):
    # NumPyro draws a markov chain by forward filtering, backward sampling (its own
    # infer_discrete would contract the chain jointly), Pyro by its infer_discrete. At fixed
    # parameters the n draws are i.i.d. from p(x | y), so each state's frequency at each step
    # is binomial around the exact marginal: held to 4.5 of its standard errors (a false alarm
    # ~7e-6 per cell, ~1e-4 over the 18); n = 400 keeps Pyro's loop over draws short
    n = 400
    states = _short_draws(backend, 1, n)
    freq = np.stack([(states == k).mean(axis=0) for k in range(3)], axis=1)
    exact = _forward_backward(SHORT_Y, **SHORT_PARAMS)
    se = np.sqrt(exact * (1 - exact) / n) + 1e-12
    assert np.all(np.abs(freq - exact) <= 4.5 * se + 1e-9), (freq, exact)
    assert 0.5 * np.abs(freq - exact).sum(axis=1).max() <= 0.1


def test_most_probable_states_are_the_viterbi_path(backend):
    # temperature 0: the joint argmax, against all 3^6 assignments scored by hand
    path = _short_draws(backend, 0, 2)
    grid = np.stack(np.meshgrid(*[np.arange(3)] * len(SHORT_Y), indexing="ij"), -1)
    grid = grid.reshape(-1, len(SHORT_Y))
    with np.errstate(divide="ignore"):
        log_trans = np.log(hmm_transition(SHORT_PARAMS["stay"]))
    log_emit = norm(SHORT_PARAMS["locs"], SHORT_PARAMS["scale"]).logpdf(SHORT_Y[:, None])
    score = log_emit[np.arange(len(SHORT_Y)), grid].sum(1)
    score = score + log_trans[grid[:, :-1], grid[:, 1:]].sum(1)
    np.testing.assert_array_equal(path, np.stack([grid[np.argmax(score)]] * 2))


def _hmm_of_length(y, T):
    gaussian_hmm(y[:T])  # an int argument, as users write a sequence's length


def test_a_chain_model_with_an_int_argument_is_drawn_like_the_same_chain():
    # the chain's structure is traced with the arrays abstract and the int kept as it is
    backend = ppl.get_backend("numpyro")
    problem = backend.problem(_hmm_of_length, (SHORT_Y, len(SHORT_Y)))
    values = {k: backend.asarray(v) for k, v in SHORT_PARAMS.items()}
    zs = backend.xp.broadcast_to(problem.unconstrain(values), (2, problem.dim))
    draws = problem.sample_discrete(zs, backend.key(1), 0)
    path = np.stack([backend.to_numpy(draws[f"x_{t}"]) for t in range(len(SHORT_Y))], axis=1)
    np.testing.assert_array_equal(path, _short_draws(backend, 0, 2))


def _wide(y):
    # 17 enumerated sites in one factor: no chain, and 2^17 joint states
    bits = [ppl.sample(f"b_{i}", ppl.dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
            for i in range(17)]  # fmt: skip
    ppl.sample("y", ppl.dist.Normal(sum(bits), 1.0), obs=y)


def test_numpyro_warns_where_it_cannot_draw_the_enumerated_sites():
    from ppl.inference.driver import _discrete_samples

    problem = ppl.get_backend("numpyro").problem(_wide, (np.array(3.0),))
    assert problem.sample_discrete is None
    with pytest.warns(UserWarning, match=r"'b_0'.*backend='pyro'"):
        assert _discrete_samples("nuts", problem, None, None) == {}


def _guide(y):
    ppl.sample("weights", ppl.dist.Dirichlet(ppl.ops.ones(3)))


@pytest.mark.parametrize(
    "options", [{"guide": _guide}, {"init": "median"}], ids=["guide_function", "init_median"]
)
def test_svi_fitting_the_model_itself_refuses_enumerated_sites(backend, options):
    with pytest.raises(ppl.errors.ModelError, match=r"'z'.*enumerated.*guide='normal'.*gibbs"):
        ppl.infer(gaussian_mixture_enum, "svi", args=(MIXTURE_Y,), num_steps=10,
                  progress=False, **options)  # fmt: skip
