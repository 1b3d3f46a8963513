"""``ppl.handlers``: effect handlers that mean the same on both backends.

``trace, replay, condition, substitute, seed, block, scale, mask, do, reparam``; each is a
context manager, a decorator and a higher-order function, as in NumPyro, and works on whichever
backend is active when it runs.

>>> import ppl
>>> from ppl import dist, handlers
>>> def model():
...     return ppl.sample("x", dist.Normal(0.0, 1.0))
>>> for name in ppl.backends():
...     with ppl.backend(name):
...         tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
...         print(name, tr.backend, list(tr))
numpyro numpyro ['x']
pyro pyro ['x']
"""

from __future__ import annotations

from .base import Handler
from .pinned import pinned
from .standard import block, condition, do, mask, reparam, replay, scale, seed, substitute, trace
from .trace_view import Site, Trace

__all__ = [
    "Handler",
    "Site",
    "Trace",
    "block",
    "condition",
    "do",
    "mask",
    "pinned",
    "replay",
    "reparam",
    "scale",
    "seed",
    "substitute",
    "trace",
]
