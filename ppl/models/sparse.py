"""Sparse linear regression: a spike-and-slab and a horseshoe prior on the coefficients.

The spike-and-slab prior is written in its marginalised form: each coefficient's inclusion
indicator is summed out, leaving the two-component mixture ``(1 - pi) Normal(0, spike) +
pi Normal(0, slab)`` as a continuous prior, so every continuous sampler can run it. The horseshoe
is non-centred: ``beta = tau * lambda * beta_raw``.

>>> import ppl
>>> spec = ppl.models.get("horseshoe_regression")
>>> ppl.get_backend("pyro").problem(spec.model, spec.args, spec.kwargs).layout.names
('sigma', 'tau', 'lambda', 'beta_raw')
"""

from __future__ import annotations

import math

import numpy as np

import ppl
from ppl import dist, ops

from .spec import ModelSpec

__all__ = ["spike_and_slab_regression", "horseshoe_regression", "horseshoe_prior", "sparse_data"]


def spike_and_slab_regression(X, y=None, pi=0.2, spike=0.05, slab=2.0):
    """``beta_j ~ (1 - pi) Normal(0, spike) + pi Normal(0, slab)``, ``y ~ Normal(X beta, sigma)``.

    ``beta`` is drawn from the slab and a factor turns the slab density into the mixture's
    (a ``MixtureSameFamily`` latent site has no bijection to real space on Pyro).
    """
    sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
    slab_dist = dist.Normal(0.0, slab).expand([X.shape[1]]).to_event(1)
    beta = ppl.sample("beta", slab_dist)
    log_mix = ops.logaddexp(
        math.log(1.0 - pi) + dist.Normal(0.0, spike).log_prob(beta),
        math.log(pi) + dist.Normal(0.0, slab).log_prob(beta),
    )
    ppl.factor("spike_and_slab", ops.sum(log_mix, axis=-1) - slab_dist.log_prob(beta))
    with ppl.plate("data", X.shape[0]):
        ppl.sample("y", dist.Normal(ops.matmul(X, beta), sigma), obs=y)


def horseshoe_prior(D: int, global_scale: float = 1.0):
    """Sample the horseshoe's ``tau``, ``lambda`` and ``beta_raw``; return ``beta`` (recorded
    as a deterministic site)."""
    tau = ppl.sample("tau", dist.HalfCauchy(global_scale))
    lam = ppl.sample("lambda", dist.HalfCauchy(1.0).expand([D]).to_event(1))
    beta_raw = ppl.sample("beta_raw", dist.Normal(0.0, 1.0).expand([D]).to_event(1))
    return ppl.deterministic("beta", tau * lam * beta_raw)


def horseshoe_regression(X, y=None, global_scale=0.1):
    """``beta ~ horseshoe(global_scale)``, ``y ~ Normal(X beta, sigma)``."""
    sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
    beta = horseshoe_prior(X.shape[1], global_scale)
    with ppl.plate("data", X.shape[0]):
        ppl.sample("y", dist.Normal(ops.matmul(X, beta), sigma), obs=y)


def sparse_data(N: int = 100, D: int = 20, num_nonzero: int = 3, seed: int = 0):
    """``(X, y, beta_true)``: ``num_nonzero`` coefficients of size 2-3, the rest zero, noise 0.5."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    beta = np.zeros(D)
    beta[rng.choice(D, num_nonzero, replace=False)] = rng.choice([-1, 1], num_nonzero) * (
        2.0 + rng.random(num_nonzero)
    )
    return X, X @ beta + 0.5 * rng.normal(size=N), beta


def spike_and_slab_spec() -> ModelSpec:
    X, y, _ = sparse_data()
    return ModelSpec(
        name="spike_and_slab_regression",
        model=spike_and_slab_regression,
        family="sparse",
        description="Sparse regression, marginalised spike-and-slab prior (N=100, D=20)",
        args=(X,),
        kwargs={"y": y},
    )


def horseshoe_spec() -> ModelSpec:
    X, y, _ = sparse_data()
    return ModelSpec(
        name="horseshoe_regression",
        model=horseshoe_regression,
        family="sparse",
        description="Sparse regression, horseshoe prior (N=100, D=20)",
        args=(X,),
        kwargs={"y": y},
    )
