"""Stochastic normalizing flows (Wu, Köhler & Noé, NeurIPS 2020).

RealNVP blocks interleaved with stochastic blocks: after RealNVP block ``i`` of ``n``,
``mc_steps`` steps of a Markov kernel (``kernel="mh"``, random-walk Metropolis, the paper's
choice; or ``"mala"`` / ``"ula"``, Metropolis-adjusted / unadjusted Langevin) on ``pi_lambda ∝
q0^(1 - lambda) pi^lambda`` with ``lambda = i / (n - 1)``, so the last block relaxes on the
target itself. Each block's step size is trained with the flow (from 0.05; the paper's
adaptive-MC variant, which wins on its double well: ``benchmarks/RESULTS.md``);
``learn_step_size=False`` keeps the paper's fixed steps (0.25). Training minimises the
energy-based reverse KL over paths: each stochastic step adds ``log K(x | x') - log K(x' | x)``
to the path's log-weight (for Metropolis kernels the energy change ``U_lambda(x') -
U_lambda(x)``), so the weights are exact without marginalising the noise; ``data=`` adds
maximum likelihood along reverse paths.

>>> import ppl
>>> from ppl import dist
>>> def model():
...     x = ppl.sample("x", dist.Normal(0.0, 3.0))
...     ppl.factor("target", -0.5 * (x - 1.0) ** 2 - dist.Normal(0.0, 3.0).log_prob(x))
>>> post = ppl.infer(model, "snf", num_blocks=1, hidden=(8,), num_steps=200, lr=0.02,
...                  mc_steps=5, step_size=0.5, num_samples=500, progress=False)
>>> post.samples["x"].shape
(1, 500)
>>> abs(post.log_z.estimate - 0.9189) < 5 * post.log_z.stderr + 0.02   # log sqrt(2 pi)
True
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import CAPABILITIES, StochasticOptions, make_algorithm

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(StochasticOptions):
    """The flow's and the stochastic blocks' options (see
    ``ppl.inference.flows.base.StochasticOptions``); none of its own."""


build = make_algorithm(stochastic=True)
