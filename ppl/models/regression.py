"""Linear, logistic and hierarchical logistic regression on synthetic data.

The data generators take ``N`` (rows), ``D`` (features) and ``seed`` and return numpy arrays; the
specs use them with fixed seeds.

>>> import ppl
>>> from ppl.models.regression import linear_data
>>> X, y, w = linear_data(N=20, D=3, seed=1)
>>> X.shape, y.shape, w.shape
((20, 3), (20,), (3,))
"""

from __future__ import annotations

import numpy as np

import ppl
from ppl import dist, ops

from .spec import ModelSpec

__all__ = [
    "linear_regression",
    "logistic_regression",
    "hierarchical_logistic_regression",
    "linear_data",
    "logistic_data",
    "hierarchical_logistic_data",
]


def linear_regression(X, y=None):
    """``y ~ Normal(X w + b, sigma)`` with ``w ~ Normal(0, 1)``, ``b ~ Normal(0, 5)``,
    ``sigma ~ HalfNormal(1)``."""
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 5.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
    with ppl.plate("data", X.shape[0]):
        ppl.sample("y", dist.Normal(ops.matmul(X, w) + b, sigma), obs=y)


def logistic_regression(X, y=None, subsample_size=None):
    """``y ~ Bernoulli(logits=X w + b)`` with standard normal priors; ``subsample_size`` turns
    on minibatching for stochastic-gradient samplers."""
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("data", X.shape[0], subsample_size=subsample_size) as idx:
        y_batch = None if y is None else y[idx]
        ppl.sample("y", dist.Bernoulli(logits=ops.matmul(X[idx], w) + b), obs=y_batch)


def hierarchical_logistic_regression(X, group, num_groups, y=None):
    """Per-group coefficients ``w_g ~ Normal(mu, tau)`` (non-centred), ``y ~ Bernoulli(logits=
    X w_group + b_group)``; ``group[i]`` in ``range(num_groups)`` is row ``i``'s group."""
    D = X.shape[1]
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0).expand([D]).to_event(1))
    tau = ppl.sample("tau", dist.HalfNormal(1.0).expand([D]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0).expand([num_groups]).to_event(1))
    with ppl.plate("groups", num_groups):
        w_raw = ppl.sample("w_raw", dist.Normal(0.0, 1.0).expand([num_groups, D]).to_event(1))
    w = ppl.deterministic("w", mu + tau * w_raw)
    logits = ops.sum(X * w[group], axis=-1) + b[group]
    with ppl.plate("data", X.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=logits), obs=y)


def linear_data(N: int = 100, D: int = 5, seed: int = 0, noise: float = 0.5):
    """``(X, y, w_true)``: standard normal features, ``y = X w + 1 + noise * eps``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    w = rng.normal(size=D)
    y = X @ w + 1.0 + noise * rng.normal(size=N)
    return X, y, w


def logistic_data(N: int = 200, D: int = 5, seed: int = 0):
    """``(X, y, w_true)`` with ``y ~ Bernoulli(sigmoid(X w))`` as floats 0./1."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    w = rng.normal(size=D)
    y = (rng.random(N) < 1.0 / (1.0 + np.exp(-(X @ w)))).astype(float)
    return X, y, w


def hierarchical_logistic_data(N: int = 200, D: int = 3, num_groups: int = 5, seed: int = 0):
    """``(X, group, y)``: group coefficients scattered around a shared mean."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    group = rng.integers(num_groups, size=N)
    w = rng.normal(size=D) + 0.5 * rng.normal(size=(num_groups, D))
    logits = np.sum(X * w[group], axis=-1) + 0.3 * rng.normal(size=num_groups)[group]
    y = (rng.random(N) < 1.0 / (1.0 + np.exp(-logits))).astype(float)
    return X, group, y


def linear_spec() -> ModelSpec:
    X, y, _ = linear_data()
    return ModelSpec(
        name="linear_regression",
        model=linear_regression,
        family="regression",
        description="Bayesian linear regression on synthetic data (N=100, D=5)",
        args=(X,),
        kwargs={"y": y},
    )


def logistic_spec() -> ModelSpec:
    X, y, _ = logistic_data()
    return ModelSpec(
        name="logistic_regression",
        model=logistic_regression,
        family="regression",
        description="Bayesian logistic regression on synthetic data (N=200, D=5)",
        args=(X,),
        kwargs={"y": y},
    )


def hierarchical_logistic_spec() -> ModelSpec:
    X, group, y = hierarchical_logistic_data()
    return ModelSpec(
        name="hierarchical_logistic_regression",
        model=hierarchical_logistic_regression,
        family="regression",
        description="Hierarchical logistic regression, 5 groups (N=200, D=3)",
        args=(X, group, 5),
        kwargs={"y": y},
    )
