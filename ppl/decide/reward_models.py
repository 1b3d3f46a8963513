"""Reward models for Thompson sampling, and the convention they follow.

The convention
--------------
A reward model is an ordinary ``ppl`` model with the signature
``model(contexts, arms, rewards=None)`` over the ``n`` rounds seen so far:

- ``contexts``: the contexts of the rounds, one of three layouts, fixed for a run:

  * ``(n, K, d)``: one feature vector per arm ("per-arm" contexts, one shared parameter);
  * ``(n, d)``: one context per round, shared by the arms (each arm has its own parameter);
  * ``None``: no context (a multi-armed bandit).

- ``arms``: the arms played, integers in ``[0, K)``, shape ``(n,)``.
- ``rewards``: the rewards observed, shape ``(n,)``, or ``None`` (the model then samples them).

To act, Thompson sampling needs the expected reward of every arm in a new round under one
posterior draw. It is given either by

1. an ``expected_reward(params, context) -> (K,)`` function in numpy, where ``params`` maps each
   latent (and deterministic) site to one posterior draw as a numpy array and ``context`` is one
   round's context (``(K, d)``, ``(d,)`` or ``None``); fast, and what the helpers here provide;
2. or, without such a function, by a deterministic site ``"mean_reward"`` of shape ``(n, K)``
   (``(K,)`` also accepted) that the model records: the model is run on the one new round with the
   drawn parameters substituted.

``RewardModel`` bundles a model with its ``expected_reward``; ``linear_reward_model`` and
``bernoulli_reward_model`` build the common ones.

>>> import numpy as np
>>> from ppl.decide import linear_reward_model
>>> rm = linear_reward_model(3, prior="horseshoe")
>>> rm.expected_reward({"beta": np.array([1.0, 0.0, -1.0])}, np.eye(3))
array([ 1.,  0., -1.])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import dist, ops, primitives
from ..errors import OptionError, did_you_mean
from .spike_slab import spike_slab_parts

__all__ = [
    "PRIORS",
    "RewardModel",
    "bernoulli_reward_model",
    "linear_reward_model",
]

#: coefficient priors of ``linear_reward_model``
PRIORS = ("normal", "horseshoe", "spike_slab")


@dataclass(frozen=True)
class RewardModel:
    """A reward model (see the module docstring for the convention) with what acting needs.

    Attributes
    ----------
    model : callable
        ``model(contexts, arms, rewards=None)``.
    expected_reward : callable or None
        ``expected_reward(params, context) -> (K,)`` in numpy; ``None``: read the model's
        ``"mean_reward"`` site.
    context : str
        ``"per_arm"`` (contexts ``(n, K, d)``), ``"shared"`` (``(n, d)``) or ``"none"``.
    num_arms : int or None
        ``K`` where the model fixes it (needed for shared and absent contexts).
    num_features : int or None
        ``d`` where the model fixes it.
    guide : callable or None
        The guide that ``svi`` fits when the user names none.
    guide_start : callable or None
        ``guide_start(warm) -> {param: initial value}``: that guide's parameters at a warm start
        (``warm``: a previous posterior mean per latent site), passed as ``init_values``.
    masks_rounds : bool
        Whether ``model`` takes a fourth argument ``valid``, a boolean ``(n,)`` array (or
        ``None``) whose false rounds it leaves out of the likelihood: Thompson sampling then pads
        the history to a capacity that doubles, so each update reuses a compiled program.
    """

    model: Callable
    expected_reward: Callable | None = None
    context: str = "per_arm"
    num_arms: int | None = None
    num_features: int | None = None
    guide: Callable | None = None
    guide_start: Callable | None = None
    masks_rounds: bool = False

    def __call__(self, contexts, arms, rewards=None, valid=None):
        if self.masks_rounds:
            return self.model(contexts, arms, rewards, valid)
        if valid is not None:
            raise OptionError("This reward model does not take valid= (masks_rounds=False).")
        return self.model(contexts, arms, rewards)


def _coefficients(prior: str, shape: tuple, prior_scale: float, global_scale: float):
    """Sample the coefficients of a linear model under ``prior``; returns ``beta``."""
    event = dist.Normal(0.0, 1.0).expand(list(shape)).to_event(len(shape))
    if prior == "normal":
        normal = dist.Normal(0.0, prior_scale).expand(list(shape)).to_event(len(shape))
        return primitives.sample("beta", normal)
    if prior == "horseshoe":  # non-centred: beta = tau * lambda * z
        tau = primitives.sample("tau", dist.HalfCauchy(global_scale))
        lam = primitives.sample(
            "lambda", dist.HalfCauchy(1.0).expand(list(shape)).to_event(len(shape))
        )
        z = primitives.sample("z", event)
        return primitives.deterministic("beta", tau * lam * z)
    raise AssertionError(prior)  # spike_slab: spike_slab_parts


def linear_reward_model(
    num_features: int,
    *,
    num_arms: int | None = None,
    prior: str = "normal",
    prior_scale: float = 1.0,
    global_scale: float | None = None,
    noise_scale: float | None = 1.0,
    spike_slab: dict | None = None,
) -> RewardModel:
    """A linear Gaussian reward model: ``reward ~ Normal(x_arm . beta, noise_scale)``.

    Parameters
    ----------
    num_features : int
        ``d``.
    num_arms : int, optional
        ``None``: per-arm contexts ``(n, K, d)`` and one ``beta`` of shape ``(d,)``; an integer
        ``K``: one shared context ``(n, d)`` per round and ``beta`` of shape ``(K, d)``.
    prior : {"normal", "horseshoe", "spike_slab"}
        ``normal``: ``beta ~ Normal(0, prior_scale)``. ``horseshoe`` (Carvalho, Polson & Scott
        2010): ``beta = tau * lambda * z`` with ``tau ~ HalfCauchy(global_scale)``,
        ``lambda ~ HalfCauchy(1)``, ``z ~ Normal(0, 1)``. ``spike_slab``: the prior of
        Chakraborty, Roy & Tewari (2023), ``beta_j = z_j w_j`` with a Laplace slab
        ``w_j ~ Laplace(0, prior_scale)``, relaxed Bernoulli indicators ``z_j`` and their
        inclusion probability ``pi ~ Beta(a, b)`` (``ppl.decide.spike_slab``); the model then
        brings its own guide for ``svi`` (``RewardModel.guide``).
    prior_scale : float
        Scale of the normal prior and of the Laplace slab.
    global_scale : float, optional
        Scale of the horseshoe's global ``tau``; default ``1 / sqrt(d)``.
    noise_scale : float or None
        The reward noise sd; ``None`` learns it (``sigma ~ HalfNormal(1)``).
    spike_slab : dict, optional
        Further arguments of ``spike_slab_parts`` (``inclusion_a``, ``inclusion_b``,
        ``temperature``, ...).

    Returns
    -------
    RewardModel

    Examples
    --------
    >>> import numpy as np
    >>> import ppl
    >>> from ppl.decide import linear_reward_model
    >>> rm = linear_reward_model(2, num_arms=3)
    >>> x = np.ones((4, 2)); arms = np.array([0, 1, 2, 0]); r = np.zeros(4)
    >>> tr = ppl.handlers.trace(ppl.handlers.seed(rm.model, rng_seed=0)).get_trace(x, arms, r)
    >>> tuple(tr["beta"].value.shape)
    (3, 2)
    """
    if prior not in PRIORS:
        raise OptionError(
            f"Unknown prior {prior!r} for linear_reward_model; choose one of {PRIORS}."
            + did_you_mean(prior, PRIORS)
        )
    shape = (num_features,) if num_arms is None else (num_arms, num_features)
    tau0 = global_scale if global_scale is not None else 1.0 / math.sqrt(num_features)
    parts = None
    if prior == "spike_slab":
        parts = spike_slab_parts(shape, slab_scale=prior_scale, **(spike_slab or {}))
    elif spike_slab:
        raise OptionError(f"spike_slab options are for prior='spike_slab', not {prior!r}.")

    def model(contexts, arms, rewards=None, valid=None):
        if parts is not None:
            beta = parts.coefficients()
        else:
            beta = _coefficients(prior, shape, prior_scale, tau0)
        sigma = (
            noise_scale
            if noise_scale is not None
            else primitives.sample("sigma", dist.HalfNormal(1.0))
        )
        # the rounds are indexed by the plate, so SG-MCMC's batch_size can subsample them
        with primitives.plate("rounds", arms.shape[0]) as idx:
            x, arm = contexts[idx], arms[idx]
            if num_arms is None:  # (n, K, d) @ (d,) -> (n, K)
                means = ops.sum(x * beta, axis=-1)
            else:  # (n, d) @ (d, K) -> (n, K)
                means = ops.matmul(x, beta.T)
            mean = means[ops.arange(arm.shape[0]), arm]
            observed = None if rewards is None else rewards[idx]
            noise = _masked(dist.Normal(mean, sigma), valid, idx)
            primitives.sample("reward", noise, obs=observed)

    def expected_reward(params, context):
        beta = np.asarray(params["beta"])
        return np.asarray(context) @ beta if num_arms is None else beta @ np.asarray(context)

    return RewardModel(
        model,
        expected_reward,
        context="per_arm" if num_arms is None else "shared",
        num_arms=num_arms,
        num_features=num_features,
        guide=None if parts is None else parts.guide,
        guide_start=None if parts is None else parts.guide_start,
        masks_rounds=True,
    )


def bernoulli_reward_model(num_arms: int, *, a: float = 1.0, b: float = 1.0) -> RewardModel:
    """A Bernoulli bandit without context: ``p ~ Beta(a, b)`` per arm, ``reward ~ Bernoulli(
    p[arm])``.

    Examples
    --------
    >>> from ppl.decide import bernoulli_reward_model
    >>> rm = bernoulli_reward_model(3)
    >>> rm.context, rm.num_arms
    ('none', 3)
    >>> rm.expected_reward({"p": [0.1, 0.5, 0.2]}, None)
    array([0.1, 0.5, 0.2])
    """

    def model(contexts, arms, rewards=None, valid=None):
        p = primitives.sample("p", dist.Beta(a, b).expand([num_arms]).to_event(1))
        with primitives.plate("rounds", arms.shape[0]) as idx:
            observed = None if rewards is None else rewards[idx]
            coin = _masked(dist.Bernoulli(probs=p[arms[idx]]), valid, idx)
            primitives.sample("reward", coin, obs=observed)

    def expected_reward(params, context):
        return np.asarray(params["p"], dtype=float)

    return RewardModel(model, expected_reward, context="none", num_arms=num_arms, masks_rounds=True)


def _masked(distribution, valid, idx):
    """``distribution`` with the rounds where ``valid`` is false left out (``valid=None``: all
    rounds count)."""
    return distribution if valid is None else distribution.mask(valid[idx])
