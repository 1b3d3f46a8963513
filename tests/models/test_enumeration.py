"""Discrete sites summed out by enumeration: the ``Problem``'s potential is the exact marginal.

The marginal likelihoods are written by hand in numpy: a logsumexp over the components for the
mixture, the forward algorithm for the HMM. The potential of the model minus the potential of
its priors alone (the same continuous sites, so the same transforms and Jacobians) is the
negative log marginal likelihood; both backends, float64, to 1e-5 (round-off is ~1e-10).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logsumexp
from scipy.stats import norm

import ppl
from ppl import dist, ops
from ppl.errors import ModelError
from ppl.inference.optimize import compiled_value_and_grad
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


def chain_forward(log_init, log_trans, log_emit):
    """The forward algorithm: ``(log p(y), log alpha)`` with ``alpha[t, k] = p(y_0..y_t, x_t =
    k)``, from ``log p(x_0)``, ``log p(x_t | x_{t-1})`` and ``log p(y_t | x_t)`` (``(T, K)``)."""
    log_alpha = np.empty_like(log_emit)
    log_alpha[0] = log_init + log_emit[0]
    for t in range(1, len(log_emit)):
        log_alpha[t] = logsumexp(log_alpha[t - 1][:, None] + log_trans, axis=0) + log_emit[t]
    return logsumexp(log_alpha[-1]), log_alpha


def hmm_forward(y, stay, locs, scale):
    """``chain_forward`` of the HMM: ``x_0`` uniform over the 3 states."""
    with np.errstate(divide="ignore"):  # the structure's forbidden transitions: log 0
        log_trans = np.log(hmm_transition(np.asarray(stay)))
    log_emit = norm(locs, scale).logpdf(y[:, None])
    return chain_forward(np.full(3, np.log(1.0 / 3.0)), log_trans, log_emit)


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


def _left_to_right(y):
    """A chain that starts in state 0 and can only move on (0 -> 1 -> 2, 2 absorbing): state 2
    cannot be reached at t = 0 or 1, so its forward sums there are over ``-inf`` terms only."""
    stay = ppl.sample("stay", dist.Beta(ops.full((2,), 5.0), 1.0).to_event(1))
    loc = ppl.sample("loc", dist.Normal(0.0, 1.0))
    moves = stay[:, None] * ops.asarray(np.eye(3)[:2]) + (1.0 - stay[:, None]) * ops.asarray(
        np.eye(3, k=1)[:2]
    )
    trans = ops.concatenate([moves, ops.asarray(np.array([[0.0, 0.0, 1.0]]))], axis=0)
    probs = ops.asarray(np.array([1.0, 0.0, 0.0]))
    for t in ppl.markov(range(y.shape[0])):
        x = ppl.sample(f"x_{t}", dist.Categorical(probs), infer={"enumerate": "parallel"})
        ppl.sample(f"y_{t}", dist.Normal(loc + x, 1.0), obs=y[t])
        probs = trans[x]


def _priors_of_left_to_right(y):
    ppl.sample("stay", dist.Beta(ops.full((2,), 5.0), 1.0).to_event(1))
    ppl.sample("loc", dist.Normal(0.0, 1.0))


def test_a_chain_with_unreachable_states_has_a_finite_gradient(backend, float64):
    # the forward sums of an unreachable state are over -inf terms only: a plain logsumexp's
    # gradient there is NaN (0 / 0), though the state adds nothing to the marginal
    y = np.array([0.1, 0.9, 1.8, 2.2, 2.1])
    problem = backend.problem(_left_to_right, (y,))
    prior = backend.problem(_priors_of_left_to_right, (y,))
    values = {"stay": np.array([0.6, 0.7]), "loc": np.array(0.2)}
    z = problem.unconstrain({k: backend.asarray(v) for k, v in values.items()})
    value, grad = compiled_value_and_grad(problem)(z)
    assert np.all(np.isfinite(backend.to_numpy(grad)))
    trans = np.array([[0.6, 0.4, 0.0], [0.0, 0.7, 0.3], [0.0, 0.0, 1.0]])
    with np.errstate(divide="ignore"):
        log_init, log_trans = np.log([1.0, 0.0, 0.0]), np.log(trans)
    log_emit = norm(0.2 + np.arange(3), 1.0).logpdf(y[:, None])
    got = float(value) - float(prior.potential(z))
    assert got == pytest.approx(-chain_forward(log_init, log_trans, log_emit)[0], abs=1e-5)


#: unconstrained (stay, locs, scale) near the HMM's data where a log-space einsum that shifts
#: each operand by its own maximum (funsor's) underflows in float32: its gradient was NaN here
UNDERFLOW_Z = [3.5636878, 0.7210998, 2.0861113, -1.0965298, 0.0940123, 1.2565007, -1.2784004]


def test_hmm_gradient_in_float32_matches_the_forward_algorithm(backend):
    # float32 against central differences (h = 1e-6, error ~1e-9) of the float64 forward
    # algorithm: 20 steps of float32 round-off in a potential of ~111 leave the gradient's
    # elements (1 to 60 in size) within 1e-3 relative; the priors' part is the priors' own
    # problem's gradient (the same transforms and Jacobians)
    y = hmm_data()[0][:20]  # the first 20 of the default data
    z = np.array(UNDERFLOW_Z)
    grads = [
        backend.to_numpy(compiled_value_and_grad(p)(backend.asarray(z))[1])
        for p in (backend.problem(gaussian_hmm, (y,)), backend.problem(_priors_of_hmm, (y,)))
    ]
    assert np.all(np.isfinite(grads[0])), grads[0]

    def log_likelihood(u):  # (stay, locs, scale) from their unconstrained coordinates
        return hmm_log_likelihood(y, expit(u[:3]), u[3:6], np.exp(u[6]))

    h = 1e-6
    fd = [(log_likelihood(z + h * e) - log_likelihood(z - h * e)) / (2 * h) for e in np.eye(7)]
    np.testing.assert_allclose(grads[0] - grads[1], -np.array(fd), rtol=1e-3, atol=1e-3)


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


def _responsibilities(y, weights, locs, scales):
    log_r = np.log(weights) + norm(locs, scales).logpdf(y[:, None])
    return np.exp(log_r - logsumexp(log_r, axis=1, keepdims=True))


def _viterbi(y, stay, locs, scale):
    """The most probable state path of the HMM, in numpy."""
    with np.errstate(divide="ignore"):
        log_trans = np.log(hmm_transition(np.asarray(stay)))
    log_emit = norm(locs, scale).logpdf(y[:, None])
    score, back = np.log(1.0 / 3.0) + log_emit[0], []
    for t in range(1, len(y)):
        cand = score[:, None] + log_trans
        back.append(cand.argmax(axis=0))
        score = cand.max(axis=0) + log_emit[t]
    path = [int(score.argmax())]
    for pointers in reversed(back):
        path.append(int(pointers[path[-1]]))
    return np.array(path[::-1])


def test_mixture_assignments_are_drawn_from_their_conditional(backend, float64):
    # 300 draws at one parameter point: per point and state the frequency has an sd of at most
    # 0.5 / sqrt(300) = 0.029, so a total variation over 0.12 at any of the 20 points would be a
    # > 4-sigma error; temperature 0 gives the most probable assignment exactly
    y = mixture_data(20)
    problem = backend.problem(gaussian_mixture_enum, (y,))
    z = problem.unconstrain({k: backend.asarray(v) for k, v in MIXTURE.items()})
    exact = _responsibilities(y, **MIXTURE)
    draws = backend.to_numpy(
        problem.sample_discrete(backend.xp.stack([z] * 300), backend.key(0))["z"]
    )
    freq = np.stack([(draws == k).mean(axis=0) for k in range(3)], axis=1)
    assert 0.5 * np.abs(freq - exact).sum(axis=1).max() <= 0.12
    best = problem.sample_discrete(z[None], backend.key(1), temperature=0)["z"]
    np.testing.assert_array_equal(backend.to_numpy(best)[0], exact.argmax(axis=1))


@pytest.fixture
def pyro_hmm_problem(float64):
    """The HMM on 15 observations, on Pyro, and its unconstrained point at ``HMM``."""
    y = hmm_data(T=15)[0]
    with ppl.backend("pyro") as backend:
        problem = backend.problem(gaussian_hmm, (y,))
        z = problem.unconstrain({k: backend.asarray(np.asarray(v)) for k, v in HMM.items()})
        yield y, backend, problem, z


def test_hmm_most_probable_states_are_the_viterbi_path(pyro_hmm_problem):
    # Pyro's infer_discrete follows the markov chain: temperature 0 is the Viterbi path exactly
    y, backend, problem, z = pyro_hmm_problem
    best = problem.sample_discrete(z[None], backend.key(0), temperature=0)
    path = np.array([int(best[f"x_{t}"][0]) for t in range(len(y))])
    np.testing.assert_array_equal(path, _viterbi(y, **HMM))


@pytest.mark.slow
def test_hmm_state_draws_match_forward_backward(pyro_hmm_problem):
    # 150 draws at one point against forward-backward: per step and state an sd of at most
    # 0.5 / sqrt(150) = 0.041, so a total variation over 0.2 at any of the 15 steps would be a
    # ~4-sigma error in two states at once
    y, backend, problem, z = pyro_hmm_problem
    draws = problem.sample_discrete(backend.xp.stack([z] * 150), backend.key(1))
    states = np.stack([backend.to_numpy(draws[f"x_{t}"]) for t in range(len(y))], axis=1)
    _, log_alpha = hmm_forward(y, **HMM)
    with np.errstate(divide="ignore"):
        log_trans = np.log(hmm_transition(HMM["stay"]))
    log_emit = norm(HMM["locs"], HMM["scale"]).logpdf(y[:, None])
    log_beta = np.zeros_like(log_alpha)
    for t in range(len(y) - 2, -1, -1):
        log_beta[t] = logsumexp(log_trans + log_emit[t + 1] + log_beta[t + 1], axis=1)
    exact = np.exp(log_alpha + log_beta - logsumexp(log_alpha[-1]))
    freq = np.stack([(states == k).mean(axis=0) for k in range(3)], axis=1)
    assert 0.5 * np.abs(freq - exact).sum(axis=1).max() <= 0.2
