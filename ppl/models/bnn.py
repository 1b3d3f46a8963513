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

__all__ = [
    "bnn_regression",
    "bnn_classification",
    "bnn_data",
    "deep_bnn_predict",
    "deep_bnn_regression",
    "deep_bnn_weights",
    "friedman_data",
]


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


def deep_bnn_regression(X, y=None, width: int = 100, subsample_size=None):
    """``y ~ Normal(f(X), sigma)`` with ``f`` a network of two hidden ``tanh`` layers of
    ``width`` units (``D -> width -> width -> 1``), ``sigma ~ HalfNormal(1)``. Every weight's
    prior scale is ``1/sqrt(fan_in)`` and every bias's 1, so the pre-activations have unit prior
    scale whatever ``D`` and ``width`` (``deep_bnn_weights`` counts the weights)."""
    D = X.shape[1]
    layers = []
    for i, (fan_in, fan_out) in enumerate([(D, width), (width, width), (width, None)], 1):
        shape = [fan_in] if fan_out is None else [fan_in, fan_out]
        w = ppl.sample(
            f"w{i}",
            dist.Normal(0.0, 1.0 / math.sqrt(fan_in)).expand(shape).to_event(len(shape)),
        )
        b = (
            ppl.sample(f"b{i}", dist.Normal(0.0, 1.0))
            if fan_out is None
            else ppl.sample(f"b{i}", dist.Normal(0.0, 1.0).expand([fan_out]).to_event(1))
        )
        layers.append((w, b))
    sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
    with ppl.plate("data", X.shape[0], subsample_size=subsample_size) as idx:
        h = X[idx]
        for w, b in layers[:-1]:
            h = ops.tanh(ops.matmul(h, w) + b)
        w, b = layers[-1]
        y_batch = None if y is None else y[idx]
        ppl.sample("y", dist.Normal(ops.matmul(h, w) + b, sigma), obs=y_batch)


def deep_bnn_weights(D: int, width: int = 100) -> int:
    """The number of weights and biases of ``deep_bnn_regression`` on ``D`` inputs (``sigma``
    not counted): ``D width + width + width^2 + width + width + 1``.

    >>> deep_bnn_weights(100)
    20301
    """
    return D * width + width + width * width + width + width + 1


def deep_bnn_predict(samples, X) -> np.ndarray:
    """The network's output at ``X`` for every draw of ``samples`` (numpy, ``(chains, draws,
    ...)`` arrays as ``Posterior.samples`` holds them): an array ``(draws in all, len(X))``."""
    flat = {k: np.asarray(v).reshape(-1, *np.shape(v)[2:]) for k, v in samples.items()}
    h = np.tanh(np.einsum("nd,sdw->snw", X, flat["w1"]) + flat["b1"][:, None, :])
    h = np.tanh(np.einsum("snd,sdw->snw", h, flat["w2"]) + flat["b2"][:, None, :])
    return np.einsum("snw,sw->sn", h, flat["w3"]) + flat["b3"][:, None]


def friedman_data(N: int = 12_000, D: int = 100, noise: float = 1.0, seed: int = 0):
    """``(X, y)``: Friedman's first regression problem, scikit-learn's ``make_friedman1``
    recipe (Friedman 1991) in numpy: ``X`` uniform on ``[0, 1]^D``,
    ``y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise N(0, 1)`` (only five of the
    ``D`` inputs matter), then ``X`` centred and scaled to unit variance (``(x - 0.5) sqrt(12)``)
    and ``y`` to mean 0 and sd 1 with the formula's own moments (mean 14.413, sd
    ``sqrt(23.83 + noise^2)``), so that no statistic of the sample leaks between a split's parts.

    >>> X, y = friedman_data(N=20_000, D=5)
    >>> round(float(X.std()), 1), round(float(y.mean()), 1), round(float(y.std()), 1)
    (1.0, 0.0, 1.0)
    """
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(N, D))
    y = (
        10.0 * np.sin(np.pi * X[:, 0] * X[:, 1])
        + 20.0 * (X[:, 2] - 0.5) ** 2
        + 10.0 * X[:, 3]
        + 5.0 * X[:, 4]
        + noise * rng.normal(size=N)
    )
    return (X - 0.5) * math.sqrt(12.0), (y - FRIEDMAN_MEAN) / math.sqrt(FRIEDMAN_VAR + noise**2)


#: the mean and variance of Friedman's first function of uniform inputs (without its noise):
#: 10 E[sin(pi U V)] + 20/12 + 5 + 2.5 and, by numerical integration, its variance
FRIEDMAN_MEAN, FRIEDMAN_VAR = 14.413, 23.83


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
