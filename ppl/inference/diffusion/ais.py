"""AIS: annealed importance sampling (Neal 2001) with MALA moves along the path from ``q0``.

Nothing is trained: the schedule is linear in ``beta``; ``num_steps`` (default 0) adapts the
step size towards ``target_accept`` on batches of ``batch_size`` paths before the final run.
The log-weights of the final paths give ``Posterior.log_z``.

>>> import ppl
>>> from ppl import dist
>>> def model():
...     x = ppl.sample("x", dist.Normal(0.0, 3.0))
...     ppl.factor("target", -0.5 * (x - 1.0) ** 2 - dist.Normal(0.0, 3.0).log_prob(x))
>>> post = ppl.infer(model, "ais", K=16, num_samples=500, init_q0="prior", progress=False)
>>> abs(post.log_z.estimate - 0.9189) < 5 * post.log_z.stderr   # log sqrt(2 pi)
True
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import OptionError
from .base import AIS, CAPABILITIES, make_algorithm
from .base import Options as BaseOptions

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(BaseOptions):
    """``Options`` (see ``ppl.inference.diffusion.base``) with ``num_steps=0`` by default, and
    target_accept: the mean MALA acceptance rate the adaptation steps aim at."""

    num_steps: int = 0
    target_accept: float = 0.6

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.target_accept < 1:
            raise OptionError(f"target_accept must lie in (0, 1), got {self.target_accept}.")


build = make_algorithm(AIS)
