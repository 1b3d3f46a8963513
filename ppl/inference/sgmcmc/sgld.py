"""SGLD: stochastic-gradient Langevin dynamics (Welling & Teh 2011).

Each step moves ``z <- z - eps/2 grad U(z) + N(0, eps)`` along the gradient of the potential
on a fresh minibatch; the step size follows ``schedule``.

>>> import ppl
>>> spec = ppl.models.get("gamma_poisson")
>>> post = ppl.infer(spec.model, "sgld", args=spec.args, kwargs=spec.kwargs, step_size=1e-3,
...                  num_warmup=20, num_samples=50, progress=False)
>>> post.samples["lam"].shape
(1, 50)
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import CAPABILITIES, SGOptions, make_sampler

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(SGOptions):
    """``SGOptions``; SGLD has no options of its own."""


build = make_sampler("sgld")
