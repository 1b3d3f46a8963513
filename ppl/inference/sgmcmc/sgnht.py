"""SGNHT: the stochastic-gradient Nosé-Hoover thermostat (Ding et al. 2014).

``p <- p - h xi p - h grad U(z) + N(0, 2 A h)``, ``z <- z + h p``,
``xi <- xi + h (p.p / D - 1)``: the thermostat ``xi`` adapts the friction to the unknown
gradient noise; ``A = friction``.

>>> import ppl
>>> spec = ppl.models.get("gamma_poisson")
>>> post = ppl.infer(spec.model, "sgnht", args=spec.args, kwargs=spec.kwargs, step_size=1e-3,
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
    """``SGOptions`` and ``FrictionOptions`` (friction: the diffusion A and initial thermostat)."""


build = make_sampler("sgnht")
