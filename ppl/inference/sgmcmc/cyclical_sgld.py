"""Cyclical SGLD: SGLD with the cyclical cosine step size of cSG-MCMC (Zhang et al. 2020).

Not BlackJAX's ``csgld``, which is *contour* SGLD; the name ``csgld`` is refused here with a
pointer to this one.

The same update as ``sgld`` with ``schedule="cyclical"`` by default: each of ``num_cycles``
cycles starts with a large step (exploring a new mode) and shrinks it to zero (sampling it).

>>> import ppl
>>> from ppl import dist
>>> def model():
...     ppl.sample("x", dist.Normal(0.0, 1.0))
>>> post = ppl.infer(model, "cyclical_sgld", backend="pyro", step_size=0.5, num_cycles=2,
...                  num_warmup=0, num_samples=50, progress=False)
>>> post.samples["x"].shape
(1, 50)
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import CAPABILITIES, SGOptions, make_sampler

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(SGOptions):
    """``SGOptions`` with the cyclical schedule as default."""

    schedule: str = "cyclical"


build = make_sampler("sgld", auto_rule="cyclical_sgld")
