"""Discrete sites summed out by enumeration: the ``Problem``'s potential is the exact marginal.

The marginal likelihoods are written by hand in numpy: a logsumexp over the components for the
mixture, the forward algorithm for the HMM. The potential of the model minus the potential of
its priors alone (the same continuous sites, so the same transforms and Jacobians) is the
negative log marginal likelihood; both backends, float64, to 1e-5 (round-off is ~1e-10).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm

import ppl
from ppl import dist
from ppl.errors import ModelError
from ppl.models.hmm import gaussian_hmm, hmm_data, hmm_priors, hmm_transition
from ppl.models.mixture import _priors, gaussian_mixture_enum, mixture_data

MIXTURE = {
    "weights": np.array([0.2, 0.5, 0.3]),
    "locs": np.array([-3.0, 0.5, 4.0]),
    "scales": np.array([1.2, 0.6, 2.0]),
}
HMM = {"stay": np.array([0.7, 0.9, 0.6]), "locs": np.array([-1.5, 0.3, 2.2]), "scale": 0.9}


def mixture_log_likelihood(y, weights, locs, scales):
    """sum_i log sum_k w_k N(y_i | loc_k, scale_k)."""
    per_k = np.log(weights) + norm(locs, scales).logpdf(y[:, None])
    return logsumexp(per_k, axis=1).sum()


def hmm_forward(y, stay, locs, scale):
    """The forward algorithm: ``(log p(y | params), log alpha)`` with ``alpha[t, k] =
    p(y_0..y_t, x_t = k)``; ``x_0`` uniform over the 3 states."""
    with np.errstate(divide="ignore"):  # the structure's forbidden transitions: log 0
        log_trans = np.log(hmm_transition(np.asarray(stay)))
    log_emit = norm(locs, scale).logpdf(y[:, None])
    log_alpha = np.empty_like(log_emit)
    log_alpha[0] = np.log(1.0 / 3.0) + log_emit[0]
    for t in range(1, len(y)):
        log_alpha[t] = logsumexp(log_alpha[t - 1][:, None] + log_trans, axis=0) + log_emit[t]
    return logsumexp(log_alpha[-1]), log_alpha


def hmm_log_likelihood(y, stay, locs, scale):
    return hmm_forward(y, stay, locs, scale)[0]


def _priors_of_mixture(y):
    _priors(3)


def _priors_of_hmm(y):
    hmm_priors()


@pytest.mark.parametrize(
    ("model", "priors", "y", "values", "log_likelihood"),
    [
        (gaussian_mixture_enum, _priors_of_mixture, mixture_data(60), MIXTURE,
         mixture_log_likelihood),
        (gaussian_hmm, _priors_of_hmm, hmm_data(T=30)[0], HMM, hmm_log_likelihood),
    ],
    ids=["mixture", "hmm"],
)  # fmt: skip
def test_enumerated_potential_is_the_marginal(
    backend, float64, model, priors, y, values, log_likelihood
):
    problem = backend.problem(model, (y,))
    prior = backend.problem(priors, (y,))
    assert problem.layout == prior.layout
    assert problem.enumerated  # the discrete sites were summed out, not refused
    z = problem.unconstrain({k: backend.asarray(np.asarray(v)) for k, v in values.items()})
    assert str(z.dtype).endswith("float64")
    got = float(problem.potential(z)) - float(prior.potential(z))
    assert got == pytest.approx(-log_likelihood(y, **values), abs=1e-5)


def _unmarked(y):
    weights, locs, scales = _priors(3)
    with ppl.plate("data", y.shape[0]):
        z = ppl.sample("z", dist.Categorical(weights))
        ppl.sample("y", dist.Normal(locs[z], scales[z]), obs=y)


def _minibatched(y):
    weights, locs, scales = _priors(3)
    with ppl.plate("data", y.shape[0], subsample_size=10):
        z = ppl.sample("z", dist.Categorical(weights), infer={"enumerate": "parallel"})
        ppl.sample("y", dist.Normal(locs[z], scales[z]), obs=ppl.subsample(y, event_dim=0))


def _unbounded():
    ppl.sample("n", dist.Poisson(3.0), infer={"enumerate": "parallel"})


@pytest.mark.parametrize(
    ("model", "args", "match"),
    [
        (_unmarked, (mixture_data(20),), r"'z'.*not enumerated.*enumerate.*parallel.*gibbs"),
        (_minibatched, (mixture_data(20),), r"'z'.*subsampled plate 'data'.*subsample_size.*gibbs"),
        (_unbounded, (), r"'n'.*Poisson.*no finite support.*gibbs"),
    ],
    ids=["not-enumerated", "minibatched", "infinite-support"],
)  # fmt: skip
def test_a_discrete_site_that_cannot_be_summed_out_is_refused(backend, model, args, match):
    with pytest.raises(ModelError, match=match):
        backend.problem(model, args)
