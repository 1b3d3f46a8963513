"""SGLD: stochastic-gradient Langevin dynamics (Welling & Teh 2011).

Each step moves ``z <- z - eps/2 grad U(z) + N(0, eps)`` along the gradient of the potential
on a fresh minibatch; the step size follows ``schedule``.

>>> import ppl
>>> from ppl import dist
>>> def model(y):
...     mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
...     with ppl.plate("data", len(y)):
...         ppl.sample("y", dist.Normal(mu, 1.0), obs=y)
>>> post = ppl.infer(model, "sgld", args=([0.1, 0.3, 0.2],), backend="numpyro", step_size=0.05,
...                  num_warmup=20, num_samples=50, progress=False)
>>> post.samples["mu"].shape
(1, 50)
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import KIND, UPDATES, SGOptions, make_sampler, problem_overrides

__all__ = ["KIND", "Options", "init", "problem_overrides", "step"]


@dataclass(frozen=True)
class Options(SGOptions):
    """``SGOptions``; SGLD has no options of its own."""


init, step = make_sampler(UPDATES["sgld"])
