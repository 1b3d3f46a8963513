"""``ppl.decide``: sequential decisions over ``ppl`` models — Thompson sampling with any
registered posterior, bandit environments, baselines, and regret simulation.

A reward model is an ordinary model ``model(contexts, arms, rewards=None)`` (the convention is in
``ppl.decide.reward_models``); ``ThompsonSampling`` acts on its posterior, computed by the
inference algorithm named by ``posterior``.

>>> from ppl.decide import BernoulliBandit, LinUCB, simulate
>>> regret = simulate(LinUCB(2), BernoulliBandit([0.2, 0.8]), horizon=100, seed=0)
>>> bool(regret[50:].sum() < regret[:50].sum())
True

``ThompsonSampling`` shows the same loop with a posterior computed by ``ppl.infer``.
"""

from __future__ import annotations

from .algorithm import algorithms
from .baselines import (
    EpsilonGreedy,
    LassoBandit,
    LinearTS,
    LinUCB,
    RandomAgent,
    arm_features,
    lasso,
)
from .environments import BernoulliBandit, LinearBandit, covariance_matrix
from .reward_models import PRIORS, RewardModel, bernoulli_reward_model, linear_reward_model
from .simulate import plot_regret, regret_table, simulate
from .spike_slab import SpikeSlabParts, spike_slab_parts
from .thompson import ThompsonSampling

__all__ = [
    "PRIORS",
    "BernoulliBandit",
    "EpsilonGreedy",
    "LassoBandit",
    "LinUCB",
    "LinearBandit",
    "LinearTS",
    "RandomAgent",
    "RewardModel",
    "SpikeSlabParts",
    "ThompsonSampling",
    "algorithms",
    "arm_features",
    "bernoulli_reward_model",
    "covariance_matrix",
    "lasso",
    "linear_reward_model",
    "plot_regret",
    "regret_table",
    "simulate",
    "spike_slab_parts",
]
