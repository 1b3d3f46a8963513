"""Exact Gaussian-process regression with an RBF kernel, written in ``ppl.ops``.

The same kernel as the GPyTorch classifier (``ppl.models.gp_gpytorch``); the latent function is
integrated out, so the likelihood is ``y ~ MultivariateNormal(0, K + noise I)`` and the sites are
the three hyperparameters.

>>> import ppl
>>> spec = ppl.models.get("gp_regression")
>>> ppl.get_backend("pyro").problem(spec.model, spec.args, spec.kwargs).layout.names
('lengthscale', 'variance', 'noise')
"""

from __future__ import annotations

import numpy as np

import ppl
from ppl import dist, ops

from .spec import ModelSpec

__all__ = ["rbf_kernel", "gp_regression", "gp_data"]


def rbf_kernel(X1, X2, variance, lengthscale):
    """``variance * exp(-|x1 - x2|^2 / (2 lengthscale^2))`` for rows of ``X1`` and ``X2``."""
    sq = ops.sum((X1[:, None, :] - X2[None, :, :]) ** 2, axis=-1)
    return variance * ops.exp(-0.5 * sq / lengthscale**2)


def gp_regression(X, y=None, jitter=1e-6):
    """``y ~ MultivariateNormal(0, K_rbf(X, X) + (noise + jitter) I)`` with log-normal priors on
    the lengthscale, the variance and the noise variance."""
    lengthscale = ppl.sample("lengthscale", dist.LogNormal(0.0, 1.0))
    variance = ppl.sample("variance", dist.LogNormal(0.0, 1.0))
    noise = ppl.sample("noise", dist.LogNormal(-2.0, 1.0))
    N = X.shape[0]
    K = rbf_kernel(X, X, variance, lengthscale) + (noise + jitter) * ops.eye(N, dtype=X.dtype)
    loc = ops.zeros(N, dtype=X.dtype)
    ppl.sample("y", dist.MultivariateNormal(loc, covariance_matrix=K), obs=y)


def gp_data(N: int = 30, seed: int = 0):
    """``(X, y)``: ``X`` of shape ``(N, 1)`` uniform on ``[-3, 3]``, ``y = sin(2x) + 0.1 eps``."""
    rng = np.random.default_rng(seed)
    X = np.sort(rng.uniform(-3.0, 3.0, size=(N, 1)), axis=0)
    return X, np.sin(2.0 * X[:, 0]) + 0.1 * rng.normal(size=N)


def exact_gp_spec() -> ModelSpec:
    X, y = gp_data()
    return ModelSpec(
        name="gp_regression",
        model=gp_regression,
        family="gp",
        description="Exact GP regression, RBF kernel, hyperparameters as sites (N=30)",
        args=(X,),
        kwargs={"y": y},
    )
