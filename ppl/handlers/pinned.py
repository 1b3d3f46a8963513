"""Handlers pinned to one backend, whatever backend is active (used by the pyro-api aliases).

>>> import ppl
>>> from ppl.handlers import pinned
>>> pyro_handlers = pinned("pyro")
>>> with ppl.backend("numpyro"), pyro_handlers["seed"](rng_seed=0):
...     ppl.get_backend().name
'pyro'
"""

from __future__ import annotations

import functools

from ..backends import load_backend
from . import standard

__all__ = ["pinned"]


@functools.cache
def pinned(backend_name: str) -> dict[str, type]:
    """``{handler name: subclass}`` whose handlers always run on ``backend_name`` (and make it
    the active backend inside them)."""
    load_backend(backend_name)  # an unknown or missing backend fails here, by name
    return {
        name: type(name, (getattr(standard, name),), {"backend_name": backend_name})
        for name in standard.__all__
    }
