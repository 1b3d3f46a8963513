"""Bayesian neural networks: one hidden ``tanh`` layer of ``width`` units (two weight layers).

The output layer's prior scale is ``1/sqrt(width)``, so the prior over functions does not grow
with the width. ``subsample_size`` turns on minibatching for stochastic-gradient samplers.

>>> import ppl
>>> spec = ppl.models.get("bnn_regression")
>>> problem = ppl.get_backend("pyro").problem(spec.model, spec.args, spec.kwargs)
>>> dict(zip(problem.layout.names, problem.layout.shapes))["w1"]
(2, 10)
"""

from __future__ import annotations

import math

import numpy as np

import ppl
from ppl import dist, ops

from .spec import ModelSpec

__all__ = ["bnn_regression", "bnn_classification", "bnn_data"]


def _network(X, width: int):
    D = X.shape[1]
    w1 = ppl.sample("w1", dist.Normal(0.0, 1.0).expand([D, width]).to_event(2))
    b1 = ppl.sample("b1", dist.Normal(0.0, 1.0).expand([width]).to_event(1))
    w2 = ppl.sample("w2", dist.Normal(0.0, 1.0 / math.sqrt(width)).expand([width]).to_event(1))
    b2 = ppl.sample("b2", dist.Normal(0.0, 1.0))
    return lambda Xb: ops.matmul(ops.tanh(ops.matmul(Xb, w1) + b1), w2) + b2


def bnn_regression(X, y=None, width: int = 10, subsample_size=None):
    """``y ~ Normal(f(X), sigma)`` with ``f`` a 2-layer tanh network, ``sigma ~ HalfNormal(1)``."""
    f = _network(X, width)
    sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
    with ppl.plate("data", X.shape[0], subsample_size=subsample_size) as idx:
        y_batch = None if y is None else y[idx]
        ppl.sample("y", dist.Normal(f(X[idx]), sigma), obs=y_batch)


def bnn_classification(X, y=None, width: int = 10, subsample_size=None):
    """``y ~ Bernoulli(logits=f(X))`` with ``f`` a 2-layer tanh network."""
    f = _network(X, width)
    with ppl.plate("data", X.shape[0], subsample_size=subsample_size) as idx:
        y_batch = None if y is None else y[idx]
        ppl.sample("y", dist.Bernoulli(logits=f(X[idx])), obs=y_batch)


def bnn_data(N: int = 100, D: int = 2, seed: int = 0):
    """``(X, y_regression, y_class)``: ``X`` uniform on ``[-2, 2]^D``, a smooth nonlinear
    response with noise 0.1, and the class labels ``y_regression > 0``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(N, D))
    f = np.sin(2.0 * X[:, 0]) + 0.5 * np.cos(X[:, -1]) * X[:, 0]
    y = f + 0.1 * rng.normal(size=N)
    return X, y, (y > 0).astype(float)


def regression_spec() -> ModelSpec:
    X, y, _ = bnn_data()
    return ModelSpec(
        name="bnn_regression",
        model=bnn_regression,
        family="bnn",
        description="2-layer Bayesian neural network regression (N=100, D=2, width=10)",
        args=(X,),
        kwargs={"y": y, "width": 10},
    )


def classification_spec() -> ModelSpec:
    X, _, labels = bnn_data()
    return ModelSpec(
        name="bnn_classification",
        model=bnn_classification,
        family="bnn",
        description="2-layer Bayesian neural network classifier (N=100, D=2, width=10)",
        args=(X,),
        kwargs={"y": labels, "width": 10},
    )
