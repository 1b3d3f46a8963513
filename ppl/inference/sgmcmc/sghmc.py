"""SGHMC: stochastic-gradient Hamiltonian Monte Carlo with friction (Chen, Fox & Guestrin 2014).

``v <- (1 - alpha) v - eta grad U(z) + N(0, 2 (alpha - beta_hat) eta)``, ``z <- z + v``, with
``eta = step_size`` (the learning rate), ``alpha = friction`` and the gradient-noise estimate
``beta_hat = noise_estimate`` removed from the injected noise.

>>> import ppl
>>> spec = ppl.models.get("gamma_poisson")
>>> post = ppl.infer(spec.model, "sghmc", args=spec.args, kwargs=spec.kwargs, step_size=1e-3,
...                  num_warmup=20, num_samples=50, progress=False)
>>> post.samples["lam"].shape
(1, 50)
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import CAPABILITIES, FrictionOptions, SGOptions, make_sampler

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(SGOptions, FrictionOptions):
    """``SGOptions`` and ``FrictionOptions`` (friction, noise_estimate)."""


build = make_sampler("sghmc")
