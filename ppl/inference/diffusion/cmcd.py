"""CMCD: Controlled Monte Carlo Diffusions (Vargas, Padhy, Blessing & Nüsken, ICLR 2024).

Annealed Langevin dynamics from ``q0`` to the target with a learned control ``f_theta(x, t)``
(a small MLP with a time embedding) that corrects the forward drift, ``x' ~ N(x - eps grad
U_beta(x) - eps f(x, t), 2 eps)``, while the backward kernel adds it,
``x ~ N(x' - eps grad U_beta(x') + eps f(x', t'), 2 eps)``. Training makes the two path
measures match (``loss="logvar"``, the log-variance loss, or ``"kl"``, the reverse KL); the
schedule, step size and ``q0`` are learned with it. The log-weights of the final paths give
``Posterior.log_z``.

>>> import ppl
>>> from ppl import dist
>>> def model():
...     x = ppl.sample("x", dist.Normal(0.0, 3.0))
...     ppl.factor("target", -0.5 * (x - 1.0) ** 2 - dist.Normal(0.0, 3.0).log_prob(x))
>>> post = ppl.infer(model, "cmcd", K=4, num_steps=20, num_samples=200, vi_steps=50,
...                  hidden=(8,), progress=False)
>>> post.samples["x"].shape
(1, 200)
>>> abs(post.log_z.estimate - 0.9189) < 5 * post.log_z.stderr + 0.05   # log sqrt(2 pi)
True
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import CAPABILITIES, CMCD, NetOptions, make_algorithm

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(NetOptions):
    """``NetOptions`` (see ``ppl.inference.diffusion.base``); CMCD has none of its own."""


build = make_algorithm(CMCD)
