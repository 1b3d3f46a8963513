"""pSGLD: SGLD preconditioned by RMSprop (Li, Chen, Carlson & Carin 2016).

``V <- a V + (1 - a) g^2``, ``G = 1 / (lambda + sqrt(V))``, then
``z <- z - eps/2 G g + N(0, eps G)`` (the small Gamma correction term is dropped, as in the paper's
experiments).

>>> import ppl
>>> spec = ppl.models.get("gamma_poisson")
>>> post = ppl.infer(spec.model, "psgld", args=spec.args, kwargs=spec.kwargs, step_size=1e-3,
...                  num_warmup=20, num_samples=50, progress=False)
>>> post.samples["lam"].shape
(1, 50)
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import CAPABILITIES, PreconditionOptions, SGOptions, make_sampler

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(SGOptions, PreconditionOptions):
    """``SGOptions`` and ``PreconditionOptions`` (rms_decay, rms_eps)."""


build = make_sampler("psgld")
