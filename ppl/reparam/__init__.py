"""``ppl.reparam``: reparameterization strategies for ``handlers.reparam``, one file each.

>>> import ppl
>>> from ppl import dist, handlers
>>> from ppl.reparam import LocScale
>>> def model():
...     ppl.sample("theta", dist.Normal(0.0, 3.0))
>>> noncentered = handlers.reparam(model, config={"theta": LocScale(centered=0.0)})
>>> tr = handlers.trace(handlers.seed(noncentered, rng_seed=0)).get_trace()
>>> "theta_decentered" in tr
True
"""

from __future__ import annotations

from .accept_reject import AcceptReject
from .base import Reparam, ReparamMessage, ReparamResult
from .implicit import Implicit
from .loc_scale import LocScale
from .score import Score
from .transform import Transform

__all__ = [
    "Reparam",
    "ReparamMessage",
    "ReparamResult",
    "LocScale",
    "Transform",
    "AcceptReject",
    "Score",
    "Implicit",
]
