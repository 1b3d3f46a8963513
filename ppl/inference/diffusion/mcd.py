"""MCD: Monte Carlo diffusion (Doucet, Grathwohl, Matthews & Strathmann, NeurIPS 2022).

Unadjusted Langevin annealing whose backward kernel carries a learned drift,
``x ~ N(x' - eps grad U_beta(x') + eps b_theta(x', t'), 2 eps)`` (``b_theta`` a small MLP with a
time embedding, the learned score correction); the forward kernel is plain Langevin. A baseline
of ``cmcd``.

>>> import ppl
>>> from ppl import dist
>>> def model():
...     ppl.sample("x", dist.Normal(1.0, 1.0))
>>> post = ppl.infer(model, "mcd", K=4, num_steps=20, num_samples=100, vi_steps=50,
...                  hidden=(8,), progress=False)
>>> post.samples["x"].shape, abs(post.log_z.estimate) < 0.2
((1, 100), True)
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import CAPABILITIES, MCD, NetOptions, make_algorithm

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(NetOptions):
    """``NetOptions`` (see ``ppl.inference.diffusion.base``); MCD has none of its own."""


build = make_algorithm(MCD)
