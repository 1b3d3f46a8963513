"""SGHMC: stochastic-gradient Hamiltonian Monte Carlo with friction (Chen, Fox & Guestrin 2014).

``v <- (1 - alpha) v - eta grad U(z) + N(0, 2 (alpha - beta_hat) eta)``, ``z <- z + v``, with
``eta = step_size`` (the learning rate), ``alpha = friction`` and the gradient-noise estimate
``beta_hat = noise_estimate`` removed from the injected noise.

>>> import ppl
>>> from ppl import dist
>>> def model(y):
...     mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
...     with ppl.plate("data", len(y)):
...         ppl.sample("y", dist.Normal(mu, 1.0), obs=y)
>>> post = ppl.infer(model, "sghmc", args=([0.1, 0.3, 0.2],), backend="numpyro", step_size=0.01,
...                  num_warmup=20, num_samples=50, progress=False)
>>> post.samples["mu"].shape
(1, 50)
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import KIND, UPDATES, FrictionOptions, SGOptions, make_sampler, problem_overrides

__all__ = ["KIND", "Options", "init", "problem_overrides", "step"]


@dataclass(frozen=True)
class Options(SGOptions, FrictionOptions):
    """``SGOptions`` and ``FrictionOptions`` (friction, noise_estimate)."""


init, step = make_sampler(UPDATES["sghmc"])
