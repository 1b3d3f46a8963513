"""``ppl.ops``: the active backend's array namespace (Python array API), plus a few extras.

Array-API functions come from ``jax.numpy`` (NumPyro) or array-api-compat's torch (Pyro);
``asarray`` also takes numpy input, lists and other backends' arrays, and ``to_numpy``,
``logsumexp``, ``softplus`` and ``stop_gradient`` (the same value without gradient, for
surrogate objectives) complete what models need.

>>> import ppl
>>> from ppl import ops
>>> with ppl.backend("pyro"):
...     float(ops.sum(ops.asarray([1.0, 2.0])))
3.0
"""

from __future__ import annotations

from .backends import get_backend

_EXTRAS = ("asarray", "to_numpy", "logsumexp", "softplus", "stop_gradient")


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    backend = get_backend()
    if name in _EXTRAS:
        return getattr(backend, name)
    try:
        return getattr(backend.xp, name)
    except AttributeError:
        raise AttributeError(f"ppl.ops has no {name!r} on the {backend.name!r} backend") from None


def __dir__():
    return sorted(set(dir(get_backend().xp)) | set(_EXTRAS))
