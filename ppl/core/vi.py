"""The SVI tables and objective rules that ``ppl.inference.svi`` and both backends share.

They are data and array arithmetic, nothing backend-specific: the autoguide and ELBO class names
both backends use, the particle and guide rules of the objectives, and the log-weight objectives
``elbo``, ``iwae`` and ``chi2`` written once against the Python array API (the namespace of the
array they are given, so the same function runs on torch tensors and JAX arrays, under
``jit`` and autodiff). ``ppl.inference.objectives`` documents them and re-exports them.

>>> import numpy as np
>>> float(chi2(np.array([-1.0, -1.0, -1.0])))
-1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..errors import OptionError, ShapeError

__all__ = [
    "GUIDE_CLASSES",
    "SCALED_GUIDES",
    "POINT_MASS_GUIDES",
    "CHI2_PARTICLES",
    "LOG_WEIGHT_OBJECTIVES",
    "elbo",
    "iwae",
    "chi2",
    "loss_function",
    "num_particles",
    "score_function",
    "evaluate",
    "check_model_params",
    "needs_score_terms",
    "objective_spec",
]

#: guide name -> the autoguide class both backends call by this name
GUIDE_CLASSES = {
    "normal": "AutoNormal",
    "mvn": "AutoMultivariateNormal",
    "lowrank": "AutoLowRankMultivariateNormal",
    "delta": "AutoDelta",
    "laplace": "AutoLaplaceApproximation",
    "iaf": "AutoIAFNormal",
    "bnaf": "AutoBNAFNormal",
}
#: guides that take an initial scale
SCALED_GUIDES = ("normal", "mvn", "lowrank")
#: named guides that put all their mass on one point while fitting
POINT_MASS_GUIDES = ("delta", "laplace")
#: ``num_particles`` for ``chi2`` when none is given: its gradient weighs the draws by
#: ``w_i^2 / sum w_j^2``, so too few draws leave one of them in charge
CHI2_PARTICLES = 16


def _namespace(x):
    """The array-API namespace of ``x`` (imported on first use, so ``import ppl`` stays light)."""
    from array_api_compat import array_namespace

    return array_namespace(x)


def _logsumexp(x):
    """``log(sum(exp(x)))`` over all elements, shifted by the (finite) maximum for stability."""
    xp = _namespace(x)
    top = xp.max(x)
    top = xp.where(xp.isfinite(top), top, xp.zeros_like(top))
    return xp.log(xp.sum(xp.exp(x - top))) + top


def elbo(log_weights):
    """The negative ELBO, ``-mean(w)``."""
    return -_namespace(log_weights).mean(log_weights)


def iwae(log_weights):
    """The negative importance-weighted bound, ``-(logsumexp(w) - log K)``."""
    return -(_logsumexp(log_weights) - math.log(log_weights.shape[0]))


def chi2(log_weights):
    """Half the log of the estimated second moment of the weights (CUBO_2):
    ``(logsumexp(2 w) - log K) / 2``; minimizing it minimizes the forward chi-square divergence
    from the posterior to the guide (``ppl.inference.objectives`` says how)."""
    return 0.5 * (_logsumexp(2.0 * log_weights) - math.log(log_weights.shape[0]))


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
            f"{sorted(names)}; use objective='elbo' or 'iwae' to fit model parameters (chi2 "
            "trains them, by the IWAE bound, only with local latent sites: ppl.amortized)."
        )


def needs_score_terms(estimator) -> bool:
    """Whether any estimator of ``estimator`` (validated ``(site, name or Reparam)`` pairs)
    adds a score-function term: every one but ``"implicit"`` and strategies whose
    ``adds_score_terms`` is false (``ppl.reparam.Implicit``)."""
    return any(
        choice != "implicit" if isinstance(choice, str) else choice.adds_score_terms
        for _, choice in estimator or ()
    )


def objective_spec(options) -> tuple[str, dict]:
    """The ELBO class both backends name alike, and its arguments, for ``options.objective``
    (not for the log-weight objectives of ``loss_function``)."""
    n = num_particles(options)
    return {
        "elbo": (
            "TraceGraph_ELBO" if needs_score_terms(options.estimator) else "Trace_ELBO",
            {"num_particles": n},
        ),
        "meanfield_elbo": ("TraceMeanField_ELBO", {"num_particles": n}),
        "tracegraph_elbo": ("TraceGraph_ELBO", {"num_particles": n}),
        "renyi": ("RenyiELBO", {"alpha": options.alpha, "num_particles": max(n, 2)}),
        "iwae": ("RenyiELBO", {"alpha": 0.0, "num_particles": max(n, 2)}),
    }[options.objective]
