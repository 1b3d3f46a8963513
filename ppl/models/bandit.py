"""The reward model of a sparse linear contextual bandit.

Each round shows ``num_arms`` contexts ``x_{t,a}`` in ``R^d``; pulling arm ``a`` pays
``x_{t,a} . theta + noise`` with a sparse ``theta``. The model puts a horseshoe prior on the
``d`` coefficients; Thompson sampling draws ``beta`` from its posterior and pulls the arm with the
largest predicted reward.

>>> from ppl.models.bandit import sparse_bandit_data
>>> data = sparse_bandit_data(T=30, d=8, num_arms=4, seed=1)
>>> data["contexts"].shape, data["X"].shape, data["y"].shape, int((data["theta"] != 0).sum())
((30, 4, 8), (30, 8), (30,), 2)
"""

from __future__ import annotations

import numpy as np

import ppl
from ppl import dist, ops

from .sparse import horseshoe_prior
from .spec import ModelSpec

__all__ = ["sparse_bandit_reward", "sparse_bandit_data"]


def sparse_bandit_reward(X, y=None, global_scale=0.1, noise_scale=1.0):
    """Rewards ``y[t] ~ Normal(X[t] . beta, sigma)``: ``X[t]`` is the context of the arm pulled
    in round ``t``, ``beta`` has a horseshoe prior."""
    beta = horseshoe_prior(X.shape[1], global_scale)
    sigma = ppl.sample("sigma", dist.HalfNormal(noise_scale))
    with ppl.plate("rounds", X.shape[0]):
        ppl.sample("y", dist.Normal(ops.matmul(X, beta), sigma), obs=y)


def sparse_bandit_data(
    T: int = 100, d: int = 20, num_arms: int = 5, sparsity: int = 2, noise: float = 0.5, seed=0
) -> dict:
    """A synthetic sparse linear contextual bandit played ``T`` rounds by a uniform policy.

    Returns a dict with ``contexts`` ``(T, num_arms, d)``, ``actions`` ``(T,)``, the pulled
    contexts ``X`` ``(T, d)``, the rewards ``y`` ``(T,)`` and the true ``theta`` ``(d,)``.
    """
    rng = np.random.default_rng(seed)
    theta = np.zeros(d)
    theta[rng.choice(d, sparsity, replace=False)] = rng.choice([-1.0, 1.0], sparsity)
    contexts = rng.normal(size=(T, num_arms, d))
    actions = rng.integers(num_arms, size=T)
    X = contexts[np.arange(T), actions]
    y = X @ theta + noise * rng.normal(size=T)
    return {"contexts": contexts, "actions": actions, "X": X, "y": y, "theta": theta}


def sparse_bandit_spec() -> ModelSpec:
    data = sparse_bandit_data()
    return ModelSpec(
        name="sparse_bandit_reward",
        model=sparse_bandit_reward,
        family="bandit",
        description="Sparse linear contextual bandit reward model, horseshoe prior (T=100, d=20)",
        args=(data["X"],),
        kwargs={"y": data["y"]},
    )
