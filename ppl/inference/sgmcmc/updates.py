"""The base update rules of the stochastic-gradient samplers: each moves a flat position given
a gradient estimate of the potential, written once over the array backend.

>>> import ppl
>>> from ppl.inference.sgmcmc.base import SGOptions
>>> from ppl.inference.sgmcmc.updates import UPDATES
>>> backend = ppl.get_backend("numpyro")
>>> z = backend.xp.zeros(3)
>>> aux = UPDATES["sghmc"].init(z, backend, SGOptions(), None)
>>> [tuple(a.shape) for a in aux]
[(3,)]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

__all__ = ["UPDATES", "Update"]


class Update(NamedTuple):
    """An update rule: ``init(position, backend, options, frame) -> aux`` (``frame``: the
    whitened coordinates the rule moves in, or ``None``) and
    ``apply(position, aux, grad, eps, key, backend, options) -> (position, aux)`` where
    ``grad`` estimates the gradient of the potential (``-grad log p``)."""

    init: Callable
    apply: Callable


def _noise(backend, key, like):
    return backend.normal(key, tuple(like.shape))


def _sgld_apply(z, aux, grad, eps, key, backend, options):
    return z - 0.5 * eps * grad + backend.xp.sqrt(eps) * _noise(backend, key, z), aux


def _psgld_init(z, backend, options, frame):
    # The squared-gradient average starts at its stationary value: ~1 per coordinate in the
    # whitened frame (unit posterior scale), where starting at 0 from the MAP point (gradient
    # ~0) makes ``G`` ~1/rms_eps and the first steps' noise throws the chain orders of
    # magnitude away. Without a frame the scale is unknown: 0, as in the paper.
    xp = backend.xp
    return (xp.zeros_like(z) if frame is None else xp.ones_like(z),)


def _psgld_apply(z, aux, grad, eps, key, backend, options):
    xp = backend.xp
    (v,) = aux
    v = options.rms_decay * v + (1 - options.rms_decay) * grad * grad
    g = 1.0 / (options.rms_eps + xp.sqrt(v))
    return z - 0.5 * eps * g * grad + xp.sqrt(eps * g) * _noise(backend, key, z), (v,)


def _momentum_init(z, backend, options, frame):
    return (backend.xp.zeros_like(z),)


def _sghmc_apply(z, aux, grad, eps, key, backend, options):
    (v,) = aux
    alpha, beta = options.friction, options.noise_estimate
    scale = backend.xp.sqrt(2 * (alpha - beta) * eps)
    v = (1 - alpha) * v - eps * grad + scale * _noise(backend, key, z)
    return z + v, (v,)


def _sgnht_init(z, backend, options, frame):
    xp = backend.xp
    return (xp.zeros_like(z), xp.zeros_like(z[0]) + options.friction)


def _sgnht_apply(z, aux, grad, eps, key, backend, options):
    xp = backend.xp
    p, xi = aux
    scale = xp.sqrt(2 * options.friction * eps)
    p = p - eps * xi * p - eps * grad + scale * _noise(backend, key, z)
    z = z + eps * p
    xi = xi + eps * (xp.sum(p * p) / z.shape[-1] - 1.0)
    return z, (p, xi)


def _no_aux(z, backend, options, frame):
    return ()


#: the base update rules by name
UPDATES: dict[str, Update] = {
    "sgld": Update(_no_aux, _sgld_apply),
    "psgld": Update(_psgld_init, _psgld_apply),
    "sghmc": Update(_momentum_init, _sghmc_apply),
    "sgnht": Update(_sgnht_init, _sgnht_apply),
}
