"""Per-data-point objectives for local latent sites under minibatches, written once.

With one latent ``z_i`` per data point, the importance-weighted objectives are bounds per data
point: ``iwae`` is ``sum_i log mean_k p(x_i, z_ik) / q(z_ik | x_i)``, not the log-mean of the
minibatch's joint weight (what a backend's ``RenyiELBO`` computes, which for ``B`` points is
nearly the ELBO again). On a minibatch of ``B`` of ``N`` points the sum is estimated by ``N / B``
times its sum over the minibatch, which is unbiased for the full-data objective.
``log_weights`` here have shape ``(K, B)``: particles by data points.

>>> import math
>>> import numpy as np
>>> w = np.log(np.array([[1.0, 2.0], [3.0, 2.0]]))
>>> round(float(local_loss("iwae", w, 0.5, 10 / 2)), 6), round(-10 * math.log(2.0), 6)
(-6.931472, -6.931472)
"""

from __future__ import annotations

import math

from .vi import _namespace, num_particles

__all__ = ["LOCAL_OBJECTIVES", "per_item", "plate_log_density", "local_loss", "local_particles"]

#: objectives that take per-data-point log-weights with local latent sites
LOCAL_OBJECTIVES = ("iwae", "renyi", "chi2")


def local_particles(options) -> int:
    """Particles per step of a per-data-point objective: as ``vi.num_particles``, at least 2
    for ``iwae`` and ``renyi`` (as their backend forms)."""
    n = num_particles(options)
    return max(n, 2) if options.objective in ("iwae", "renyi") else n


def per_item(log_prob, plate_dim: int):
    """The log-density ``log_prob`` (a site's batch shape) summed over every axis but the data
    plate's (``plate_dim``, negative, as the plate frame gives it): shape ``(B,)``."""
    xp = _namespace(log_prob)
    axis = log_prob.ndim + plate_dim
    others = tuple(i for i in range(log_prob.ndim) if i != axis)
    return xp.sum(log_prob, axis=others) if others else log_prob


def plate_log_density(sample_sites, plate: str):
    """``sum`` over ``sample_sites`` (``(name, site dict)`` pairs of a backend's trace) of their
    log-density per data point of ``plate``; an ``OptionError`` naming a site outside it."""
    from ..errors import OptionError

    total = 0.0
    for name, site in sample_sites:
        frames = [f for f in site["cond_indep_stack"] if f.name == plate]
        if not frames:
            raise OptionError(
                f"Site {name!r} lies outside the plate {plate!r} of the local latent sites; a "
                "per-data-point objective (iwae, renyi, chi2) needs every sample site inside "
                "it. Use objective='elbo', or make the global site a ppl.param."
            )
        total = total + per_item(site["fn"].log_prob(site["value"]), frames[0].dim)
    return total


def _logmeanexp(x, xp):
    top = xp.max(x, axis=0)
    top = xp.where(xp.isfinite(top), top, xp.zeros_like(top))
    return xp.log(xp.mean(xp.exp(x - top), axis=0)) + top


def local_loss(name: str, log_weights, alpha: float, scale: float):
    """The loss of objective ``name`` (``iwae``, ``renyi`` with ``alpha``, ``chi2``) from the
    ``(K, B)`` per-data-point log-weights, summed over the minibatch and scaled by ``scale``
    (``N / B``)."""
    xp = _namespace(log_weights)
    if name == "iwae":
        per_point = -_logmeanexp(log_weights, xp)
    elif name == "renyi":
        if math.isclose(alpha, 1.0):  # the limit: the ELBO
            per_point = -xp.mean(log_weights, axis=0)
        else:
            per_point = -_logmeanexp((1.0 - alpha) * log_weights, xp) / (1.0 - alpha)
    elif name == "chi2":
        per_point = 0.5 * _logmeanexp(2.0 * log_weights, xp)
    else:
        raise ValueError(f"No per-data-point form of the objective {name!r}.")
    return scale * xp.sum(per_point)
