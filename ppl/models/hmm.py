"""A Gaussian hidden Markov model with a known (cyclic) transition structure, states enumerated.

Each of ``K`` hidden states either stays (probability ``stay[k]``) or moves on to the next
state, ``k -> (k + 1) mod K``; nothing else is allowed. The stay probabilities, the emission
means ``locs`` and the shared emission scale are the continuous latents; the states ``x_t`` are
discrete sites marked ``infer={"enumerate": "parallel"}`` inside ``ppl.markov``, so the
backends sum them out with the forward algorithm (time linear in the length ``T``).

>>> import ppl
>>> spec = ppl.models.get("gaussian_hmm")
>>> len(spec.args[0])
120
>>> y = spec.args[0][:10]  # the first ten observations
>>> problem = ppl.get_backend("numpyro").problem(spec.model, (y,))
>>> problem.layout.names, problem.enumerated[:3]
(('stay', 'locs', 'scale'), ('x_0', 'x_1', 'x_2'))
"""

from __future__ import annotations

import numpy as np

import ppl
from ppl import dist, ops

from .spec import ModelSpec

__all__ = [
    "gaussian_hmm",
    "hmm_data",
    "hmm_priors",
    "hmm_transition",
    "HMM_REFERENCE",
    "HMM_TRUTH",
]

#: the parameters the default data are drawn with
HMM_TRUTH = {"stay": np.array([0.9, 0.8, 0.85]), "locs": np.array([-2.0, 0.0, 2.0]), "scale": 0.7}
#: prior means of the emission locations: they tell the states apart (no label switching)
_LOC_PRIOR = np.array([-2.5, 0.0, 2.5])


def hmm_transition(stay, xp=np):
    """The ``(K, K)`` transition matrix of the cyclic structure: ``stay[k]`` on the diagonal,
    ``1 - stay[k]`` at ``(k, k + 1 mod K)``, zero elsewhere."""
    K = stay.shape[-1]
    shift = xp.asarray(np.roll(np.eye(K), 1, axis=1))
    eye = xp.asarray(np.eye(K))
    return stay[..., :, None] * eye + (1.0 - stay[..., :, None]) * shift


def hmm_priors():
    """The continuous sites: ``stay ~ Beta(5, 1)``, ``locs ~ Normal((-2.5, 0, 2.5), 1)``,
    ``scale ~ HalfNormal(1)``."""
    K = len(_LOC_PRIOR)
    stay = ppl.sample("stay", dist.Beta(ops.full((K,), 5.0), 1.0).to_event(1))
    locs = ppl.sample("locs", dist.Normal(ops.asarray(_LOC_PRIOR), 1.0).to_event(1))
    scale = ppl.sample("scale", dist.HalfNormal(1.0))
    return stay, locs, scale


def gaussian_hmm(y):
    """``x_0`` uniform, ``x_t | x_{t-1}`` by ``hmm_transition(stay)``,
    ``y_t ~ Normal(locs[x_t], scale)``; ``x_t`` enumerated."""
    K = len(_LOC_PRIOR)
    stay, locs, scale = hmm_priors()
    trans = hmm_transition(stay, ops)
    probs = ops.full((K,), 1.0 / K)
    for t in ppl.markov(range(y.shape[0])):
        x = ppl.sample(f"x_{t}", dist.Categorical(probs), infer={"enumerate": "parallel"})
        ppl.sample(f"y_{t}", dist.Normal(locs[x], scale), obs=y[t])
        probs = trans[x]


def hmm_data(T: int = 120, seed: int = 0):
    """``(y, x)``: ``T`` observations of the model at ``HMM_TRUTH`` and their hidden states."""
    rng = np.random.default_rng(seed)
    trans = hmm_transition(HMM_TRUTH["stay"])
    K = trans.shape[0]
    x = np.empty(T, dtype=int)
    x[0] = rng.integers(K)
    for t in range(1, T):
        x[t] = rng.choice(K, p=trans[x[t - 1]])
    y = HMM_TRUTH["locs"][x] + HMM_TRUTH["scale"] * rng.normal(size=T)
    return y, x


#: the posterior on ``hmm_data()``: NumPyro's own NUTS (enumerating the states itself), 2 chains
#: x 2,000 draws after 500 warmup, ESS >= 4,874 per element (Monte Carlo error <= 0.015 sd).
#: Command: ``python benchmarks/discrete_reference.py`` (2026-12-06, 678 s on a loaded machine).
HMM_REFERENCE = {
    "stay": {"mean": np.array([0.8520, 0.6857, 0.7952]), "sd": np.array([0.0459, 0.0924, 0.0586])},
    "locs": {
        "mean": np.array([-1.9967, -0.3081, 1.9470]),
        "sd": np.array([0.1022, 0.1827, 0.1168]),
    },
    "scale": {"mean": np.array(0.7211), "sd": np.array(0.0526)},
}


def hmm_spec() -> ModelSpec:
    y, _ = hmm_data()
    return ModelSpec(
        name="gaussian_hmm",
        model=gaussian_hmm,
        family="hmm",
        description="3-state Gaussian HMM (T=120, cyclic transitions) with enumerated states",
        args=(y,),
        reference=HMM_REFERENCE,
        enumerate=True,
    )
