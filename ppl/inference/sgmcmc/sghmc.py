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

from .base import (
    KIND,
    SHARES_COMPILED_STEPS,
    FrictionOptions,
    SGOptions,
    check_info,
    make_sampler,
    problem_overrides,
)

__all__ = [
    "KIND",
    "SHARES_COMPILED_STEPS",
    "Options",
    "check_info",
    "init",
    "problem_overrides",
    "step",
]


@dataclass(frozen=True)
class Options(SGOptions, FrictionOptions):
    """``SGOptions`` and ``FrictionOptions`` (friction, noise_estimate)."""


init, step = make_sampler("sghmc")
