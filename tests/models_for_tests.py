"""Small models used across the tests, written once in ppl primitives."""

from __future__ import annotations

import numpy as np

import ppl
from ppl import dist, ops


def logistic_regression(X, y=None, subsample_size=None):
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("data", X.shape[0], subsample_size=subsample_size) as idx:
        X_batch = X[idx]
        y_batch = None if y is None else y[idx]
        ppl.sample("y", dist.Bernoulli(logits=ops.matmul(X_batch, w) + b), obs=y_batch)


def eight_schools_noncentered(sigma, y=None):
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("schools", sigma.shape[0]):
        theta_tilde = ppl.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * theta_tilde)
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


def dirichlet_with_param(counts, total=10):
    probs = ppl.sample("probs", dist.Dirichlet(ops.asarray([1.0, 2.0, 3.0])))
    scale = ppl.param("scale", ops.asarray(2.0), constraint=dist.constraints.positive)
    ppl.sample("counts", dist.Multinomial(total, probs), obs=counts)
    ppl.sample("z", dist.Normal(0.0, scale))


def logistic_data(n=60, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ np.arange(1, d + 1) * 0.5))).astype(float)
    return X, y


EIGHT_SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
EIGHT_SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])

#: (model, args, kwargs) triples that every backend must agree on
CASES = {
    "logistic_regression": (
        logistic_regression,
        lambda: logistic_data()[:1],
        lambda: {"y": logistic_data()[1]},
    ),
    "logistic_subsample": (
        logistic_regression,
        lambda: logistic_data()[:1],
        lambda: {"y": logistic_data()[1], "subsample_size": 10},
    ),
    "eight_schools": (
        eight_schools_noncentered,
        lambda: (EIGHT_SCHOOLS_SIGMA,),
        lambda: {"y": EIGHT_SCHOOLS_Y},
    ),
    "dirichlet_param": (dirichlet_with_param, lambda: (np.array([2.0, 3.0, 5.0]),), lambda: {}),
}
