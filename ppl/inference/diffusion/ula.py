"""ULA: unadjusted Langevin annealing (Thin et al. 2021; the "ULA" baseline of MCD and CMCD).

Langevin moves along the annealed path with no Metropolis correction and no learned drift; the
backward kernel is the forward one. The schedule, step size and ``q0`` are learned on the same
losses as ``cmcd``. A baseline of ``cmcd``.

>>> import ppl
>>> from ppl import dist
>>> def model():
...     ppl.sample("x", dist.Normal(1.0, 1.0))
>>> post = ppl.infer(model, "ula", K=4, num_steps=20, num_samples=100, vi_steps=50,
...                  progress=False)
>>> post.samples["x"].shape, abs(post.log_z.estimate) < 0.2
((1, 100), True)
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import CAPABILITIES, ULA, TrainOptions, make_algorithm

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(TrainOptions):
    """``TrainOptions`` (see ``ppl.inference.diffusion.base``); ULA has none of its own."""


build = make_algorithm(ULA)
