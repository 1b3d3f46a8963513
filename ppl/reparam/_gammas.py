"""Gamma, Beta and Dirichlet sites as functions of independent Gamma(alpha, 1) variables, and
the Marsaglia-Tsang proposal ``h(eps, alpha)`` of the Gamma sampler; written once over the active
backend (``ppl.ops`` and ``ppl.dist``), shared by ``AcceptReject``, ``Score`` and ``Implicit``.

>>> import ppl
>>> from ppl import ops
>>> a = ops.asarray(3.0)
>>> eps = proposal_inverse(proposal(ops.asarray(0.4), a), a)
>>> round(float(eps), 5)
0.4
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import distributions as dist
from .. import ops
from ..errors import HandlerError

__all__ = [
    "SUPPORTED",
    "GammaSite",
    "gamma_site",
    "proposal",
    "proposal_inverse",
    "log_noise_density",
    "sum_rightmost",
]

#: the distributions written through Gamma variables
SUPPORTED = ("Gamma", "Beta", "Dirichlet")
_WRAPPERS = ("Independent", "ExpandedDistribution")


class GammaSite(NamedTuple):
    """A site ``x = assemble(g)`` with independent ``g ~ Gamma(alpha, 1)`` of ``alpha``'s shape;
    the last ``event_dim`` axes of ``alpha`` lie outside the site's plates."""

    family: str
    alpha: Any
    assemble: Any
    event_dim: int


def gamma_site(name: str, fn, who: str) -> GammaSite:
    """Decompose the distribution ``fn`` of site ``name``; a ``HandlerError`` naming the site
    and the supported families when it is none of them."""
    base = fn
    while type(base).__name__ in _WRAPPERS:
        base = base.base_dist
    family = type(base).__name__
    if family not in SUPPORTED:
        raise HandlerError(
            f"{who} cannot reparameterize site {name!r}: its distribution is {family}, and "
            f"{who} supports only {', '.join(SUPPORTED)} sites (written through Gamma "
            "variables). Remove the site from the reparam config or the estimator option."
        )
    shape = tuple(fn.batch_shape) + tuple(fn.event_shape)
    batch_ndim = len(fn.batch_shape)

    def full(x):
        return ops.broadcast_to(ops.asarray(x), shape)

    if family == "Gamma":
        rate = full(base.rate)
        return GammaSite(
            family, full(base.concentration), lambda g: g / rate, len(shape) - batch_ndim
        )
    if family == "Beta":
        alpha = ops.stack([full(base.concentration1), full(base.concentration0)], axis=-1)
        return GammaSite(family, alpha, _beta, len(shape) + 1 - batch_ndim)
    return GammaSite(family, full(base.concentration), _dirichlet, len(shape) - batch_ndim)


def _beta(g):
    return g[..., 0] / (g[..., 0] + g[..., 1])


def _dirichlet(g):
    return g / ops.sum(g, axis=-1, keepdims=True)


# ---- Marsaglia-Tsang -------------------------------------------------------------------
def proposal(eps, alpha):
    """``h(eps, alpha) = (alpha - 1/3) (1 + eps / sqrt(9 alpha - 3))^3``: the Marsaglia-Tsang
    proposal, which maps standard normal noise to Gamma(alpha, 1) draws (before rejection); a
    bijection from ``eps > -sqrt(9 alpha - 3)`` onto ``(0, inf)`` for ``alpha > 1/3``."""
    d = alpha - 1.0 / 3.0
    return d * (1.0 + eps / ops.sqrt(9.0 * d)) ** 3


def proposal_inverse(g, alpha):
    """The ``eps`` with ``proposal(eps, alpha) == g``."""
    d = alpha - 1.0 / 3.0
    return ((g / d) ** (1.0 / 3.0) - 1.0) * ops.sqrt(9.0 * d)


def log_noise_density(eps, alpha):
    """``log pi(eps; alpha) = log q(h(eps, alpha); alpha) + log dh/deps``: the density of the
    noise ``eps`` that Marsaglia-Tsang accepts, with ``q`` the Gamma(alpha, 1) density. Its
    gradient in ``alpha`` (at fixed ``eps``) is the score of Naesseth et al.'s correction term;
    ``dh/deps = sqrt(d) (1 + c eps)^2`` with ``d = alpha - 1/3``, ``c = 1 / sqrt(9 d)``."""
    d = alpha - 1.0 / 3.0
    one_plus = 1.0 + eps / ops.sqrt(9.0 * d)
    g = d * one_plus**3
    log_q = dist.Gamma(alpha, ops.ones_like(alpha)).log_prob(g)
    return log_q + 0.5 * ops.log(d) + 2.0 * ops.log(one_plus)


def sum_rightmost(x, n: int):
    """``x`` summed over its last ``n`` axes."""
    return ops.sum(x, axis=tuple(range(-n, 0))) if n else x
