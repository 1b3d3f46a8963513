"""SVI: each backend's own stochastic variational inference, by name.

Guides by name: ``normal`` (AutoNormal), ``mvn`` (full-rank AutoMultivariateNormal),
``lowrank``, ``delta`` (MAP), ``laplace``, ``iaf`` and ``bnaf`` (normalizing flows), or a guide
function. Objectives by name: ``elbo``, ``meanfield_elbo``, ``tracegraph_elbo`` (score function
with baselines, for discrete or non-reparameterizable sites), ``renyi`` (with ``alpha``) and
``iwae`` (Rényi with alpha 0).

The default rule (``init="map"``, ``whiten=True``), for posteriors whose scales differ by orders
of magnitude, where a guide started at the prior median with a small scale converges slowly:

1. find the MAP point ``m`` in unconstrained space (L-BFGS, at most ``map_iterations``);
2. take the Laplace approximation there: ``L = cholesky(H^-1)`` for the Hessian ``H`` of the
   potential (directions with no curvature get unit scale);
3. fit the backend's own guide, started at zero with unit scale, to the whitened target
   ``u -> p(m + L u)`` (the same posterior, so the ELBO is unchanged), with Adam whose rate decays
   from ``lr`` to ``lr * lr_decay`` over ``num_steps``;
4. stop early once the ELBO, smoothed over windows of ``window`` steps, changes by less than
   ``tol`` relative to its size between two windows (a warning names this rule when the
   ``num_steps`` budget runs out first);
5. draw ``u`` from the fitted guide and return ``z = m + L u``.

With a guide function, or ``init="median"``, the guide is fitted to the model itself, as the
backend would.

>>> import ppl
>>> from ppl import dist
>>> def model():
...     ppl.sample("x", dist.Normal(1.0, 2.0))
>>> post = ppl.infer(model, "svi", num_steps=300, progress=False)
>>> post.samples["x"].shape
(1, 1000)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..backends import bind
from ..errors import OptionError, did_you_mean
from .driver import Draws
from .optimize import find_map

__all__ = ["KIND", "Options", "init", "step", "sample", "GUIDES", "OBJECTIVES"]

KIND = "fit"
GUIDES = ("normal", "mvn", "lowrank", "delta", "laplace", "iaf", "bnaf")
WHITENED_GUIDES = ("normal", "mvn", "lowrank", "iaf", "bnaf")
OBJECTIVES = ("elbo", "meanfield_elbo", "tracegraph_elbo", "renyi", "iwae")
INITS = ("map", "median")
#: the largest dimension for which the Laplace factor (a dense Hessian) is computed
MAX_WHITEN_DIM = 500


def _check(value, choices, what):
    if isinstance(value, str) and value not in choices:
        raise OptionError(
            f"Unknown {what} {value!r} for 'svi'; choose one of {choices}"
            + (" or pass a function." if what == "guide" else ".")
            + did_you_mean(value, choices)
        )


@dataclass(frozen=True)
class Options:
    """Options of ``svi``.

    guide: a name from ``GUIDES`` or a guide function. objective: a name from ``OBJECTIVES``.
    optimizer / lr / lr_decay: the optimizer by name, its learning rate, and the factor by which
    the rate decays over the run (Adam only). num_steps: optimisation steps. num_samples: draws
    from the fitted guide. num_particles: ELBO particles per step. alpha: the Rényi order.
    init: ``"map"`` (start from the MAP point, L-BFGS with ``map_iterations``) or ``"median"``
    (the backend's own start). whiten: fit in the space whitened by the Laplace approximation.
    tol / window: stop when the mean losses of the last three windows of ``window`` steps differ
    pairwise by less than ``tol * (1 + |mean|)``; ``tol=0`` runs all ``num_steps``.
    """

    guide: str | Callable = "normal"
    objective: str = "elbo"
    optimizer: str = "adam"
    lr: float = 0.01
    lr_decay: float = 0.1
    num_steps: int = 10000
    num_samples: int = 1000
    num_particles: int = 1
    alpha: float = 0.5
    init: str = "map"
    map_iterations: int = 1000
    whiten: bool = True
    tol: float = 1e-4
    window: int = 250

    def __post_init__(self):
        _check(self.guide, GUIDES, "guide")
        _check(self.objective, OBJECTIVES, "objective")
        _check(self.init, INITS, "init")
        if not 0 < self.lr_decay <= 1:
            raise OptionError(f"lr_decay must lie in (0, 1], got {self.lr_decay}.")


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


def objective_spec(options) -> tuple[str, dict]:
    """The ELBO class both backends name alike, and its arguments, for ``options.objective``."""
    n = options.num_particles
    return {
        "elbo": ("Trace_ELBO", {"num_particles": n}),
        "meanfield_elbo": ("TraceMeanField_ELBO", {"num_particles": n}),
        "tracegraph_elbo": ("TraceGraph_ELBO", {"num_particles": n}),
        "renyi": ("RenyiELBO", {"alpha": options.alpha, "num_particles": max(n, 2)}),
        "iwae": ("RenyiELBO", {"alpha": 0.0, "num_particles": max(n, 2)}),
    }[options.objective]


def laplace_factor(problem, z) -> np.ndarray:
    """``cholesky(H^-1)`` of the potential's Hessian at ``z``, as numpy; directions without
    positive curvature get unit scale."""
    hessian = np.asarray(problem.backend.to_numpy(problem.backend.hessian(problem.potential)(z)))
    hessian = 0.5 * (hessian + hessian.T).astype(np.float64)
    values, vectors = np.linalg.eigh(hessian)
    finite = np.isfinite(values)
    top = values[finite].max() if finite.any() else 1.0
    values = np.where(finite & (values > 1e-10 * max(top, 1e-300)), values, 1.0)
    covariance = (vectors / values) @ vectors.T
    return np.linalg.cholesky(0.5 * (covariance + covariance.T))


class _Plan:
    """One SVI configuration on one problem: the backend's runner and, when whitened, the
    affine map ``z = shift + factor @ u`` (filled in by ``init``)."""

    def __init__(self, problem, options):
        self.problem = problem
        self.whiten = (
            options.whiten
            and options.init == "map"
            and isinstance(options.guide, str)
            and options.guide in WHITENED_GUIDES
            and problem.dim <= MAX_WHITEN_DIM
        )
        self.shift = self.factor = self.log_det = None
        backend = problem.backend
        if self.whiten:
            model, args, kwargs = bind(self._whitened_model, backend.name), (), {}
        else:
            model, args, kwargs = problem.model, problem.args, problem.kwargs
        init_scale = 1.0 if self.whiten else 0.1
        self.runner = backend.svi(model, args, kwargs, options, init_scale)

    def _whitened_model(self):
        import math

        from .. import dist, primitives

        backend = self.problem.backend
        xp, dim = backend.xp, self.problem.dim
        u = primitives.sample("u", dist.Normal(0.0, 1.0).expand([dim]).to_event(1))
        z = self.shift + xp.matmul(self.factor, u)
        log_normal = -0.5 * xp.sum(u**2) - 0.5 * dim * math.log(2 * math.pi)
        primitives.factor("target", -self.problem.potential(z) + self.log_det - log_normal)


def _plan(problem, options) -> _Plan:
    return problem.cached(("svi", options), lambda: _Plan(problem, options))


def init(problem, key, options):
    plan = _plan(problem, options)
    backend = problem.backend
    map_key, svi_key = backend.split(key)
    # init="median": the backend's own start, except at the sites given ``init_values``
    start = {k: v for k, v in problem.init_values.items() if k in problem.layout.names} or None
    if options.init == "map":
        z = find_map(problem, map_key, options.map_iterations)
        if plan.whiten:
            factor = laplace_factor(problem, z)
            plan.shift, plan.factor = z, backend.asarray(factor)
            plan.log_det = float(np.log(np.diag(factor)).sum())
        else:
            values = problem.constrain(z)
            start = {k: v for k, v in values.items() if k in problem.layout.names}
    return plan.runner.init(svi_key, start)


CONVERGENCE_RULE = "the relative change of the windowed mean ELBO below tol"


def converged(losses, options) -> bool:
    """Whether the mean loss moved less than ``tol`` (relative) between each of the last three
    windows of ``window`` steps (two quiet windows in a row, so noise alone rarely stops a fit
    that is still improving)."""
    w = options.window
    if options.tol <= 0 or len(losses) < 3 * w:
        return False
    means = [
        float(np.mean(losses[len(losses) - (i + 1) * w : len(losses) - i * w])) for i in range(3)
    ]
    limit = options.tol * (1.0 + abs(means[0]))
    return abs(means[0] - means[1]) < limit and abs(means[1] - means[2]) < limit


def step(state, key, problem, options):
    return _plan(problem, options).runner.step(state, key)


def sample(state, key, problem, options, num_samples):
    plan = _plan(problem, options)
    draws = plan.runner.sample(state, key, num_samples)
    if plan.whiten:
        xp = problem.backend.xp
        return Draws(plan.shift + xp.matmul(draws["u"], xp.matrix_transpose(plan.factor)))
    values = {name: draws[name] for name in problem.layout.names}
    return Draws(problem.unconstrain(values, batch_ndim=1))
