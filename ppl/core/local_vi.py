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

``chi2`` with a model that has parameters of its own (a VAE's decoder) trains both, as CHIVI
(Dieng et al. 2017) learns a model and reweighted wake-sleep (Bornschein and Bengio 2015) a
VAE: minimizing the chi upper bound (CUBO) over the model's parameters would push ``log p(x)``
down, so it cannot fit them. From the same ``K`` draws per data point, the guide (the encoder)
minimizes the CUBO, by its score-function gradient with the draws held fixed, and the model
(the decoder) maximizes the importance-weighted bound (IWAE); stop-gradients give each set of
parameters its own gradient only (``chi2_model_loss``). Its value is the negative IWAE bound,
the model's objective, so the loss trace falls as the model learns (comparable with ``iwae``'s).

>>> log_p, log_q = np.log(np.array([[1.0, 2.0], [3.0, 2.0]])), np.zeros((2, 2))
>>> round(float(chi2_model_loss(log_p, log_q, 5.0, lambda x: x)), 6)
-6.931472
"""

from __future__ import annotations

import math

from .vi import _namespace, num_particles

__all__ = [
    "LOCAL_OBJECTIVES",
    "chi2_model_loss",
    "local_loss",
    "local_particles",
    "per_item",
    "plate_log_density",
]

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


def chi2_model_loss(log_p, log_q, scale: float, stop_gradient):
    """``chi2`` for a model with parameters: from ``(K, B)`` log-densities of the model
    (``log p(x_i, z_ik)``) and the guide (``log q(z_ik | x_i)``) at draws held fixed, the loss
    whose gradient in the guide's parameters is the CUBO's direction (model held fixed) and in
    the model's parameters the IWAE bound's (guide held fixed), both ``scale`` times their sum
    over the minibatch; its value is the negative IWAE bound. ``stop_gradient``: the backend's.
    With the draws held fixed the guide's gradient is ``-sum_k softmax(2 w)_k grad log q_k``,
    twice the CUBO's own ``-E[w^2 grad log q] / (2 E[w^2])`` (as for ``local_loss("chi2")``):
    the same direction, which Adam's steps do not depend on, twice the length for plain SGD."""
    cubo = local_loss("chi2", stop_gradient(log_p) - log_q, 0.0, scale)
    iwae = local_loss("iwae", log_p - stop_gradient(log_q), 0.0, scale)
    return iwae + (cubo - stop_gradient(cubo))
