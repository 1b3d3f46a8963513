"""``ppl.dist``: the active backend's distributions, by their shared names.

``dist.Normal`` is ``numpyro.distributions.Normal`` under the NumPyro backend and
``pyro.distributions.Normal`` under Pyro; ``dist.constraints`` and ``dist.transforms`` likewise.

>>> import ppl
>>> from ppl import dist
>>> with ppl.backend("pyro"):
...     type(dist.Normal(0.0, 1.0)).__module__.split(".")[0]
'pyro'
"""

from __future__ import annotations

from .backends import get_backend
from .errors import UnknownDistributionError, did_you_mean


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    module = get_backend().dist
    try:
        return getattr(module, name)
    except AttributeError:
        known = [n for n in dir(module) if not n.startswith("_")]
        raise UnknownDistributionError(
            f"The {get_backend().name!r} backend has no distribution {name!r}."
            + did_you_mean(name, known)
        ) from None


def __dir__():
    return [n for n in dir(get_backend().dist) if not n.startswith("_")]
