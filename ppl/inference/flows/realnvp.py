"""RealNVP (Dinh, Sohl-Dickstein & Bengio, ICLR 2017) as a sampler with importance weights.

``z ~ N(0, I)``, a diagonal affine layer, then ``num_blocks`` blocks of two affine coupling
layers; trained on the reverse KL ``E_q[log q(x) + U(x)]`` (and, with ``data=``, the
likelihood of the data). The draws' exact log-weights ``-U(x) - log q(x)`` give
``Posterior.log_z`` and the ESS. It is ``snf`` without the stochastic blocks.

>>> import ppl
>>> from ppl import dist
>>> def model():
...     x = ppl.sample("x", dist.Normal(0.0, 3.0))
...     ppl.factor("target", -0.5 * (x - 1.0) ** 2 - dist.Normal(0.0, 3.0).log_prob(x))
>>> post = ppl.infer(model, "realnvp", num_blocks=1, hidden=(8,), num_steps=300,
...                  lr=0.02, num_samples=500, progress=False)
>>> post.samples["x"].shape
(1, 500)
>>> abs(post.log_z.estimate - 0.9189) < 5 * post.log_z.stderr + 0.02   # log sqrt(2 pi)
True
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import CAPABILITIES, make_algorithm
from .base import Options as _Options

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(_Options):
    """The flow's options (see ``ppl.inference.flows.base.Options``); none of its own."""


build = make_algorithm(stochastic=False)
