"""SVI objectives written once, as losses of importance log-weights.

A log-weight objective is a function ``f(log_weights) -> scalar loss`` written with ``ppl.ops``.
At every step the backend draws ``K = num_particles`` reparameterized samples ``z_i`` from the
guide ``q`` and hands ``f`` the ``(K,)`` array of ``log_weights[i] = log p(x, z_i) - log q(z_i)``
(the model's log joint, with its plate scaling, at the guide's draw); the optimizer minimizes
``f`` by differentiating through the draws (the pathwise gradient; ``chi2``, below, holds them
fixed instead). So ``elbo`` is
``-mean(w)``, ``iwae`` is ``-(logsumexp(w) - log K)`` and ``chi2`` is
``(logsumexp(2 w) - log K) / 2``; a user passes their own ``f`` as ``objective=f``.

``chi2`` is the proposal objective of variational importance sampling (VIS; Li, Wang, Li and Wu,
"Forward chi^2 Divergence Based Variational Importance Sampling", ICLR 2024): it minimizes the
forward chi-square divergence ``chi2(p(z|x) || q) = E_q[w^2] / p(x)^2 - 1`` with
``w = p(x, z) / q(z)``, which is, since ``p(x)`` does not depend on ``q``, minimizing
``log V(q) = log E_q[w^2]``, the variance of the importance-sampling estimate of ``p(x)`` with
proposal ``q`` (up to a constant). The loss is ``log V`` estimated from ``K`` draws and halved,
``(logsumexp(2 w_i) - log K) / 2``: the chi upper bound CUBO_2, which lies above ``log p(x)``
for large ``K`` and reaches it when ``q`` is the posterior (the ``loss`` in ``sample_stats``).
Its gradient is the score-function one of the paper: the draws ``z_i`` are held fixed (no
gradient flows through them) while ``log q(z_i)`` is differentiated, so the loss's gradient is
``-sum_i s_i grad_phi log q(z_i)`` with ``s_i = w_i^2 / sum_j w_j^2``, the self-normalized
estimate of ``grad log V = -E_q[w^2 grad log q] / E_q[w^2]`` (consistent as ``K`` grows, biased
for finite ``K``; a weighted maximum-likelihood step towards the heavily weighted draws). The
pathwise gradient of the same loss is not used: while ``q`` is narrower than the posterior,
``E_q[w^2]`` is infinite but its estimate from ``q``'s own draws shrinks with ``q``'s scale, and
the pathwise step collapses ``q``. So ``chi2`` needs guides whose density can be evaluated at a
given point: the Gaussian guides and ``iaf``; ``bnaf`` (no inverse) and the point-mass guides
``delta`` and ``laplace`` (whose forward chi-square is infinite) are refused. VIS also fits
the model's own parameters by maximizing the importance-sampling estimate of ``log p(x)``; here
``chi2`` fits guides only, and a model that declares ``param`` sites is refused (use ``elbo``
or ``iwae`` for those). A minimizer of the forward chi-square is mass-covering: where the
guide family cannot match the posterior, ``q`` errs wide (``E_q[w^2]`` is infinite wherever
``q`` has lighter tails than ``p``), which is what an importance proposal needs.

>>> import numpy as np
>>> import ppl
>>> from ppl import ops
>>> from ppl.inference import objectives
>>> with ppl.backend("numpyro"):
...     w = ops.asarray(np.array([-1.0, -1.0, -1.0]))
...     print(float(objectives.elbo(w)), float(objectives.iwae(w)), float(objectives.chi2(w)))
1.0 1.0 -1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .. import ops
from ..errors import OptionError, ShapeError

__all__ = [
    "elbo",
    "iwae",
    "chi2",
    "LOG_WEIGHT_OBJECTIVES",
    "CHI2_PARTICLES",
    "loss_function",
    "num_particles",
    "evaluate",
    "check_model_params",
    "score_function",
    "POINT_MASS_GUIDES",
]

#: ``num_particles`` for ``chi2`` when none is given: its gradient weighs the draws by
#: ``w_i^2 / sum w_j^2``, so too few draws leave one of them in charge
CHI2_PARTICLES = 16


def elbo(log_weights):
    """The negative ELBO, ``-mean(w)``."""
    return -ops.mean(log_weights)


def iwae(log_weights):
    """The negative importance-weighted bound, ``-(logsumexp(w) - log K)``."""
    return -(ops.logsumexp(log_weights) - math.log(log_weights.shape[0]))


def chi2(log_weights):
    """Half the log of the estimated second moment of the weights (CUBO_2):
    ``(logsumexp(2 w) - log K) / 2``; minimizing it minimizes the forward chi-square divergence
    from the posterior to the guide (see the module docstring)."""
    return 0.5 * (ops.logsumexp(2.0 * log_weights) - math.log(log_weights.shape[0]))


#: objectives by name that the backends evaluate from log-weights (the other names are the
#: backends' own ELBO classes)
LOG_WEIGHT_OBJECTIVES: dict[str, Callable] = {"chi2": chi2}


def loss_function(options) -> Callable | None:
    """The log-weight loss for ``options.objective`` (a named one or the user's callable), or
    ``None`` when the objective is one of the backends' own ELBO classes."""
    if callable(options.objective):
        return options.objective
    return LOG_WEIGHT_OBJECTIVES.get(options.objective)


def num_particles(options) -> int:
    """The particles per step: ``options.num_particles``, else the objective's default
    (``CHI2_PARTICLES`` for ``chi2``, 1 otherwise); ``chi2`` with fewer than 2, or with a
    point-mass guide, is an error."""
    n = options.num_particles
    if options.objective == "chi2":
        if n is not None and n < 2:
            raise OptionError(
                f"objective='chi2' needs num_particles >= 2 (it weighs draws against each other), "
                f"got {n}; leave it unset for {CHI2_PARTICLES}."
            )
        if isinstance(options.guide, str) and options.guide in POINT_MASS_GUIDES:
            raise OptionError(
                f"objective='chi2' needs a guide with a density; guide={options.guide!r} is a "
                "point mass, whose forward chi-square from the posterior is infinite."
            )
        return CHI2_PARTICLES if n is None else n
    return 1 if n is None else n


#: named guides that put all their mass on one point while fitting
POINT_MASS_GUIDES = ("delta", "laplace")


def score_function(options) -> bool:
    """Whether the objective differentiates ``log q`` at fixed draws (``chi2``) rather than
    through reparameterized draws (user callables)."""
    return options.objective == "chi2"


def evaluate(fn: Callable, log_weights):
    """``fn(log_weights)``, checked to be a scalar; a callable objective whose value has another
    shape is a ``ShapeError`` naming it."""
    loss = fn(log_weights)
    shape = tuple(getattr(loss, "shape", ()))
    if shape != ():
        name = getattr(fn, "__name__", repr(fn))
        raise ShapeError(
            f"The objective {name!r} must return a scalar loss from the log-weights of shape "
            f"{tuple(log_weights.shape)}; it returned shape {shape}."
        )
    return loss


def check_model_params(options, names) -> None:
    """``chi2`` fits guides only: refuse a model that declares parameters ``names``."""
    if options.objective == "chi2" and names:
        raise OptionError(
            f"objective='chi2' fits the guide only, but the model declares the parameters "
            f"{sorted(names)}; use objective='elbo' or 'iwae' to fit model parameters."
        )
