"""SVI: each backend's own stochastic variational inference, by name.

Guides by name: ``normal`` (AutoNormal), ``mvn`` (full-rank AutoMultivariateNormal),
``lowrank``, ``delta`` (MAP), ``laplace``, ``iaf`` and ``bnaf`` (normalizing flows), or a guide
function. Objectives by name: ``elbo``, ``meanfield_elbo``, ``tracegraph_elbo`` (score function
with baselines, for discrete or non-reparameterizable sites), ``renyi`` (with ``alpha``),
``iwae`` (Rényi with alpha 0) and ``chi2`` (the forward chi-square proposal objective of
variational importance sampling: the draws come with importance log-weights and ``log_z``), or a
function ``f(log_weights) -> loss`` of the ``(num_particles,)`` log-weights
``log p(x, z_i) - log q(z_i)`` of reparameterized guide draws, written with ``ppl.ops``
(``ppl.inference.objectives`` says what ``chi2`` minimizes and how its gradient is estimated).

Gradient estimators per guide site (``estimator={"rate": "accept_reject"}``, with a guide
function whose site ``rate`` is a Gamma, Beta or Dirichlet): ``accept_reject``
(``ppl.reparam.AcceptReject(boost=1)``), ``score`` (``ppl.reparam.Score()``, REINFORCE) or
``implicit`` (the backend's own implicit reparameterization), or any ``ppl.reparam`` strategy.
The first two need score-function terms, so with them ``objective="elbo"`` runs the backends'
``TraceGraph_ELBO`` (the same ELBO; NumPyro's ``Trace_ELBO`` has no score-function terms).

The default rule (``init="map"``, ``whiten=True``), for posteriors whose scales differ by orders
of magnitude, where a guide started at the prior median with a small scale converges slowly:

1. find the MAP point ``m`` in unconstrained space (L-BFGS, at most ``map_iterations``);
2. take the Laplace approximation there: ``L = cholesky(H^-1)`` for the Hessian ``H`` of the
   potential; this is the shared warm start (``ppl.inference.warm_start``), so where the
   Laplace approximation is degenerate (a scale at its boundary: the centred eight schools'
   ``tau`` -> 0) or far from the posterior's bulk, ``m`` and ``L`` are its fallback's, mean-field
   VI from the prior's median (``Posterior.diagnostics["warm_start"]`` says which);
3. fit the backend's own guide, started at zero with unit scale, to the whitened target
   ``u -> p(m + L u)`` (the same posterior, so the ELBO is unchanged), with Adam whose rate decays
   from ``lr`` to ``lr * lr_decay`` over ``num_steps``;
4. stop early once the ELBO has stopped improving: its mean over the newer of two windows
   (``max(window, steps // 4)`` steps each, the last half of the run) is not lower than over the
   older by more than twice the noise of the difference, or than ``tol`` relative to its size
   (``converged``; a warning names this rule when the ``num_steps`` budget runs out first);
5. draw ``u`` from the fitted guide and return ``z = m + L u``.

With a guide function, or ``init="median"``, the guide is fitted to the model itself, as the
backend would; a guide function starts at its own ``ppl.param`` values, or at ``init_values``
that name them (no MAP search; other names warn).

>>> import ppl
>>> from ppl import dist
>>> def model():
...     ppl.sample("x", dist.Normal(1.0, 2.0))
>>> post = ppl.infer(model, "svi", num_steps=300, progress=False)
>>> post.samples["x"].shape
(1, 1000)

A user objective: the importance-weighted bound with 8 particles, written with ``ppl.ops``.

>>> import math
>>> from ppl import ops
>>> def iwae(w):
...     return -(ops.logsumexp(w) - math.log(w.shape[0]))
>>> post = ppl.infer(model, "svi", objective=iwae, num_particles=8, num_steps=300,
...                  tol=0, progress=False)
>>> post.samples["x"].shape, post.sample_stats["loss"].shape
((1, 1000), (1, 300))
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..backends import bind
from ..core import Algorithm, Capabilities, Draws, needs_score_terms
from ..errors import ModelError, OptionError, did_you_mean
from . import amortized, compiled, objectives
from .optimize import find_map
from .option_types import check_at_least, check_field_types, check_positive
from .warm_start import laplace_start

__all__ = [
    "CAPABILITIES",
    "CONVERGENCE_RULE",
    "Options",
    "build",
    "converged",
    "GUIDES",
    "OBJECTIVES",
    "ESTIMATORS",
]

CONVERGENCE_RULE = (
    "the stop rule (the windowed mean ELBO stopped improving by more than twice its noise, "
    "or than tol)"
)
#: the step depends on the problem, the options and the state alone (the whitening travels in
#: the state), so the driver compiles it once per model and data shapes
CAPABILITIES = Capabilities(
    kind="fit",
    minibatch=True,
    stops_early=True,
    convergence_rule=CONVERGENCE_RULE,
    shares_compiled_steps=True,
    local_latents=True,
    data_parallel=True,
)


GUIDES = ("normal", "mvn", "lowrank", "delta", "laplace", "iaf", "bnaf")
WHITENED_GUIDES = ("normal", "mvn", "lowrank", "iaf", "bnaf")
OBJECTIVES = ("elbo", "meanfield_elbo", "tracegraph_elbo", "renyi", "iwae", "chi2")
INITS = ("map", "median")
ESTIMATORS = ("accept_reject", "score", "implicit")
#: objectives that carry score-function terms (needed by ``accept_reject`` and ``score``)
SCORE_OBJECTIVES = ("elbo", "tracegraph_elbo")
#: the largest dimension for which the Laplace factor (a dense Hessian) is computed
MAX_WHITEN_DIM = 500


def _check(value, choices, what):
    if isinstance(value, str) and value not in choices:
        raise OptionError(
            f"Unknown {what} {value!r} for 'svi'; choose one of {choices}"
            + (" or pass a function." if what in ("guide", "objective") else ".")
            + did_you_mean(value, choices)
        )


def _check_objective(value):
    if not isinstance(value, str) and not callable(value):
        raise OptionError(
            f"objective for 'svi' must be one of {OBJECTIVES} or a function of the log-weights, "
            f"got {value!r}."
        )
    _check(value, OBJECTIVES, "objective")


@dataclass(frozen=True)
class Options:
    """Options of ``svi``.

    guide: a name from ``GUIDES`` or a guide function. objective: a name from ``OBJECTIVES``
    or a function ``f(log_weights) -> scalar loss`` of the ``(num_particles,)`` array of
    ``log p(x, z_i) - log q(z_i)`` for reparameterized guide draws ``z_i``, written with
    ``ppl.ops`` (so ``lambda w: -ops.mean(w)`` is the ELBO); ``chi2`` minimizes the forward
    chi-square divergence from the posterior to the guide (variational importance sampling) and
    returns the guide's draws with their importance log-weights and ``log_z``; with local
    latent sites and model parameters (a VAE's decoder), the guide minimizes that bound (the
    CUBO) while the model's parameters maximize the IWAE bound of the same draws, and the loss
    reported is the negative IWAE bound (``ppl.core.local_vi.chi2_model_loss``).
    optimizer / lr / lr_decay: the optimizer by name, its learning rate, and the factor by which
    the rate decays over the run (Adam only). num_steps: optimisation steps. num_samples: draws
    from the fitted guide. num_particles: particles per step (unset: 1; 2 for ``renyi`` and
    ``iwae``; ``objectives.CHI2_PARTICLES`` for ``chi2``, which needs at least 2).
    alpha: the Rényi order.
    init: ``"map"`` (start from the MAP point, L-BFGS with ``map_iterations``) or ``"median"``
    (the backend's own start). whiten: fit in the space whitened by the Laplace approximation.
    tol / window: stop when the mean loss of the last of two windows of ``max(window, steps //
    4)`` steps is not lower than the one before by more than twice its noise (``converged``) or
    than ``tol * (1 + |mean|)``; ``tol=0`` runs all ``num_steps``.
    batch_size: minibatches, as for the SG-MCMC family: an int subsamples every plate larger
    than it, ``{plate: size}`` names them (``ppl.amortized`` has the local-latent case: latent
    sites inside a subsampled plate, fitted by a guide function whose encoder maps the
    minibatch's data to its local latents' parameters); each step's objective is scaled by
    ``N / B``, as Pyro and NumPyro do. With minibatches the guide is fitted to the model itself
    (``init="map"`` still starts an autoguide at the MAP point, but nothing is whitened), and
    ``ppl.infer(..., devices=N)`` splits each step's minibatch over ``N`` devices: each takes
    the ELBO gradient of its ``B / N`` data points, summed before the update
    (``ppl.inference.data_parallel``; ``elbo`` and ``meanfield_elbo`` only, global latents).
    """

    guide: str | Callable = "normal"
    objective: str | Callable = "elbo"
    optimizer: str = "adam"
    lr: float = 0.01
    lr_decay: float = 0.1
    num_steps: int = 10000
    num_samples: int = 1000
    num_particles: int | None = None
    alpha: float = 0.5
    init: str = "map"
    map_iterations: int = 1000
    whiten: bool = True
    tol: float = 1e-4
    window: int = 500
    estimator: tuple | None = None
    batch_size: Any = None

    def __post_init__(self):
        check_field_types(self)
        check_at_least(
            self, num_steps=1, num_samples=1, num_particles=1, map_iterations=1, window=1
        )
        check_positive(self, "lr")
        if not 0 <= self.tol < math.inf:
            raise OptionError(f"Option tol must be a number >= 0, got {self.tol}.")
        _check(self.guide, GUIDES, "guide")
        if not isinstance(self.guide, str) and not callable(self.guide):
            raise OptionError(
                f"Option guide must be one of {GUIDES} or a guide function, got {self.guide!r}."
            )
        _check_objective(self.objective)
        objectives.num_particles(self)  # chi2 with fewer than 2 particles is refused here
        _check(self.init, INITS, "init")
        if not 0 < self.lr_decay <= 1:
            raise OptionError(f"lr_decay must lie in (0, 1], got {self.lr_decay}.")
        if self.estimator is not None:
            object.__setattr__(self, "estimator", _check_estimator(self))
        amortized.check_batch_size(self.batch_size)


def _check_estimator(options) -> tuple:
    """``estimator`` as a hashable tuple of ``(site, name or strategy)`` pairs, validated."""
    from ..reparam import Reparam

    given = options.estimator
    if isinstance(given, dict):
        given = tuple(sorted(given.items(), key=lambda item: str(item[0])))
    if not isinstance(given, tuple) or not all(
        isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str) for pair in given
    ):
        raise OptionError(
            "The 'svi' option estimator must be a dict of guide site name to an estimator "
            f"name {ESTIMATORS} or a ppl.reparam strategy, not {options.estimator!r}."
        )
    for site, choice in given:
        if isinstance(choice, str):
            _check(choice, ESTIMATORS, f"estimator for site {site!r}:")
        elif not isinstance(choice, Reparam):
            raise OptionError(
                f"The estimator for site {site!r} must be one of {ESTIMATORS} or a "
                f"ppl.reparam strategy, not {choice!r}."
            )
    if not callable(options.guide):
        raise OptionError(
            f"The 'svi' option estimator needs a guide function with the sites it names "
            f"({', '.join(repr(s) for s, _ in given)}); the autoguide {options.guide!r} "
            "draws Normal variables, which these estimators do not cover."
        )
    if needs_score_terms(given) and options.objective not in SCORE_OBJECTIVES:
        raise OptionError(
            f"The estimators {dict(given)!r} add score-function terms, which the objective "
            f"{options.objective!r} does not carry; use one of {SCORE_OBJECTIVES}."
        )
    return given


def estimator_strategies(estimator) -> dict:
    """``{site: ppl.reparam strategy}`` for the validated ``estimator`` pairs."""
    from ..reparam import AcceptReject, Implicit, Score

    by_name = {"accept_reject": AcceptReject, "score": Score, "implicit": Implicit}
    return {
        site: by_name[choice]() if isinstance(choice, str) else choice for site, choice in estimator
    }


def _estimated_guide(problem, options):
    """The guide of ``options`` reparameterized by its ``estimator``; an ``OptionError`` with a
    suggestion for a site the guide does not sample."""
    from .. import handlers

    guide, strategies = options.guide, estimator_strategies(options.estimator)
    tr = handlers.trace(handlers.seed(guide, rng_seed=0)).get_trace(*problem.args, **problem.kwargs)
    sites = tr.sample_sites(observed=False)
    for site in strategies:
        if site not in sites:
            raise OptionError(
                f"The 'svi' option estimator names site {site!r}, which the guide does not "
                f"sample; its sample sites are {sorted(sites)}." + did_you_mean(site, sites)
            )
    return handlers.reparam(guide, config=strategies)


def _whitens(options) -> bool:
    return (
        options.whiten
        and options.init == "map"
        and isinstance(options.guide, str)
        and options.guide in WHITENED_GUIDES
    )


def _refuse_enumerated(problem) -> None:
    """A ``ModelError`` where the guide would be fitted to a model with enumerated sites: the
    backend's ELBO would draw them (from the guide, or the prior where the guide has none)
    instead of summing them out."""
    if problem.enumerated:
        raise ModelError(
            f"svi: the model's discrete site {problem.enumerated[0]!r} is enumerated, which the "
            "default guide handles (it is fitted to the marginal potential) but a guide "
            "function, init='median', whiten=False or a model over "
            f"{MAX_WHITEN_DIM} dimensions do not: their ELBO would sample the site instead of "
            "summing it out. Use the default guide (guide='normal', init='map'), or sample "
            'the site with ppl.infer(model, "gibbs", ...).'
        )


#: the objectives whose minibatch loss is a sum over the plate's data points plus global terms,
#: so a split minibatch's parts sum to it (``devices=N``)
SPLIT_OBJECTIVES = ("elbo", "meanfield_elbo")


def _check_parallel(problem, options) -> None:
    """An ``OptionError`` where ``devices=N`` cannot split this fit's minibatch gradient."""
    if problem.parallel is None:
        return
    devices = problem.parallel.num_parts
    if not isinstance(options.objective, str) or options.objective not in SPLIT_OBJECTIVES:
        raise OptionError(
            f"svi with devices={devices} sums each device's ELBO of its part of the minibatch; "
            f"the objective {options.objective!r} is not a sum over data points, so its parts "
            f"would not add up to it. Use objective= one of {SPLIT_OBJECTIVES}, or drop devices."
        )
    if options.estimator:
        raise OptionError(
            f"svi with devices={devices} does not split the score-function terms of estimator="
            f"{dict(options.estimator)!r}; drop estimator or devices."
        )
    if problem.local_sites:
        raise OptionError(
            f"svi with devices={devices} splits the minibatch of models with global latent "
            f"sites only; this one has local latent sites {sorted(problem.local_sites)} (an "
            "amortized fit). Drop devices."
        )


class SVIState(NamedTuple):
    """runner: the backend's SVI state; whitening: the ``WarmStart`` (``z = shift + factor @
    u``, ``ppl.inference.warm_start``) that ``init`` found and the guide is fitted in, or
    ``()`` when the guide is fitted to the model itself (then the model's own arguments)."""

    runner: Any
    whitening: Any = ()


class _Plan:
    """One SVI configuration on one problem: whether it whitens, and the backend's runner on
    the model it fits (the whitened model takes its ``WarmStart`` as its argument, from the
    state). Holds no value that ``init`` finds: those are in ``SVIState``."""

    def __init__(self, problem, options):
        self.problem = problem
        amortized.check_local(problem, options)
        # the whitened target is the full-data potential: with minibatches (batch_size, or
        # local latents) the guide is fitted to the subsampled model itself, as the backend would
        _check_parallel(problem, options)
        self.whiten = (
            _whitens(options)
            and problem.dim <= MAX_WHITEN_DIM
            and not problem.local_sites
            and not options.batch_size
            and problem.parallel is None
        )
        backend = problem.backend
        if self.whiten:
            model, args, kwargs = bind(self._whitened_model, backend.name), (), {}
        else:
            _refuse_enumerated(problem)
            model, args, kwargs = problem.model, problem.args, problem.kwargs
        init_scale = 1.0 if self.whiten else 0.1
        if options.estimator:
            options = dataclasses.replace(options, guide=_estimated_guide(problem, options))
        model, options = amortized.minibatched(model, options, problem)
        if problem.local_sites:
            amortized.check_shapes(dataclasses.replace(problem, model=model), options)
        local = amortized.local_plate(problem)
        parallel, plates = problem.parallel, problem.subsample_plates
        self.runner = backend.svi(model, args, kwargs, options, init_scale, local, parallel, plates)

    def args(self, state):
        """The model arguments of ``state``'s fit (``None``: the problem's own)."""
        return (state.whitening,) if self.whiten else None

    def _whitened_model(self, whitening):
        import math

        from .. import dist, primitives

        backend = self.problem.backend
        xp, dim = backend.xp, self.problem.dim
        u = primitives.sample("u", dist.Normal(0.0, 1.0).expand([dim]).to_event(1))
        z = whitening.shift + xp.matmul(whitening.factor, u)
        log_normal = -0.5 * xp.sum(u**2) - 0.5 * dim * math.log(2 * math.pi)
        target = -self.problem.potential(z) + whitening.log_det - log_normal
        primitives.factor("target", target)


def build(problem, options) -> Algorithm:
    """SVI of ``problem`` with ``options``: the backend's runner on the model it fits (the
    whitened one or the model itself) is built here, once; the whitening that ``init`` finds
    travels in the state."""
    plan = _Plan(problem, options)

    def init(key):
        return _init(problem, options, plan, key)

    def step(state, key):
        runner, info = plan.runner.step(state.runner, key, plan.args(state))
        return state._replace(runner=runner), info

    def sample(state, key, num_samples):
        return _sample(problem, options, plan, state, key, num_samples)

    stops = options.tol != 0  # ``tol=0`` runs every step
    return Algorithm(
        init=init,
        step=step,
        capabilities=CAPABILITIES,
        sample=sample,
        converged=functools.partial(converged, options=options) if stops else None,
        warm_start=(lambda state: state.whitening) if plan.whiten else None,
        params=lambda state: plan.runner.params(state.runner, plan.args(state)),
    )


def _init(problem, options, plan, key):
    backend = problem.backend
    map_key, svi_key = backend.split(key)
    if callable(options.guide):  # a guide function starts at its own ppl.param values
        start = _guide_param_start(problem, options)
        return SVIState(_runner_init(problem, options, plan, svi_key, start))
    # init="median": the backend's own start, except at the sites given ``init_values``
    start = {k: v for k, v in problem.init_values.items() if k in problem.layout.names} or None
    if options.init == "map" and plan.whiten:
        # the shared warm start: the Laplace approximation at the MAP point, or its fallback
        # where that is degenerate or far from the posterior's bulk (ppl.inference.warm_start)
        whitening = laplace_start(
            problem, map_key, max_dense_dim=MAX_WHITEN_DIM, map_iterations=options.map_iterations
        )
        start = {"u": backend.asarray(np.zeros(problem.dim))}  # the warm start's centre
        state = _runner_init(problem, options, plan, svi_key, start, (whitening,))
        return SVIState(state, whitening)
    if options.init == "map":
        z = find_map(problem, map_key, options.map_iterations)
        values = problem.constrain(z)
        start = {k: v for k, v in values.items() if k in problem.layout.names}
    return SVIState(_runner_init(problem, options, plan, svi_key, start))


def _guide_param_start(problem, options) -> dict | None:
    """The ``init_values`` that name ``ppl.param`` sites of a guide function (their constrained
    initial values); a warning for the names that do not."""
    if not problem.init_values:
        return None
    from .. import handlers

    guide = handlers.seed(options.guide, rng_seed=0)
    tr = handlers.trace(guide).get_trace(*problem.args, **problem.kwargs)
    params = [name for name, site in tr.items() if site.type == "param"]
    unknown = sorted(k for k in problem.init_values if k not in params)
    if unknown:
        warnings.warn(
            f"svi: init_values names {unknown}, which are not ppl.param sites of the guide "
            f"function (its parameters: {sorted(params)}), so they have no effect; a guide "
            "function starts at the initial values of its own ppl.param sites, or at "
            "init_values that name them. Or use an autoguide (guide='normal', 'mvn', ...).",
            UserWarning,
            stacklevel=3,
        )
    return {k: v for k, v in problem.init_values.items() if k in params} or None


def _runner_init(problem, options, plan, key, start, args=None):
    """The backend runner's ``init`` from ``start`` (with the whitened model's ``args``),
    compiled once per model and data shapes with the start as an input."""
    static = compiled.model_token(options)

    def runner_init(bound):  # the plan on a problem bound to the compiled function's data
        return (plan if bound is problem else _Plan(bound, options)).runner.init

    init = compiled.compiled(
        problem, "svi-init", runner_init, static, static is not None, once=True
    )
    return init(key, start, args)


#: batches per window: the standard error of a window's mean loss is the spread of its batch
#: means, which holds when successive losses are correlated (Adam's momentum) or heavy-tailed
BATCHES = 10
#: how many standard errors a window-to-window decrease must exceed to count as progress
#: (one-sided: a fit whose loss still falls by this much stops with probability ~2%)
Z_PROGRESS = 2.0


def _mean_and_se(block) -> tuple[float, float]:
    """The mean of ``block`` and its standard error from ``BATCHES`` batch means."""
    batches = np.array([b.mean() for b in np.array_split(block, min(BATCHES, len(block)))])
    se = batches.std(ddof=1) / math.sqrt(len(batches)) if len(batches) > 1 else 0.0
    return float(block.mean()), float(se)


def converged(losses, options) -> bool:
    """Whether the loss has stopped falling, by a test of the smoothed loss against its noise.

    The last half of the ``n`` losses so far is split into two windows of ``max(window, n //
    4)`` steps; the fit has settled when the mean loss fell from the older window to the newer
    by less than ``Z_PROGRESS`` standard errors of the difference (the noise of a stochastic
    ELBO, from batch means) or by less than ``tol`` relative to its size (a deterministic or
    near-noiseless loss). The windows grow with the run, so the test detects ever slower
    progress, and it cannot pass before the run is about twice as long as its descent (the
    older window must lie past it): noise alone does not stop a fit that is still improving.
    """
    n, w = len(losses), max(options.window, len(losses) // 4)
    if options.tol <= 0 or n < 2 * w:
        return False
    losses = np.asarray(losses, float)
    new, se_new = _mean_and_se(losses[n - w :])
    old, se_old = _mean_and_se(losses[n - 2 * w : n - w])
    noise = Z_PROGRESS * math.sqrt(se_new**2 + se_old**2)
    return old - new < max(noise, options.tol * (1.0 + abs(new)))


def _sample(problem, options, plan, state, key, num_samples):
    if problem.dim == 0:  # local latent sites only (a VAE): no global draws to return
        return Draws(problem.backend.xp.zeros((num_samples, 0)), None)
    log_weights = None
    if options.objective == "chi2":  # an importance proposal: its draws come with weights
        draws, log_weights = plan.runner.weighted_sample(
            state.runner, key, num_samples, plan.args(state)
        )
    else:
        draws = plan.runner.sample(state.runner, key, num_samples, plan.args(state))
    if plan.whiten:
        xp, whitening = problem.backend.xp, state.whitening
        z = whitening.shift + xp.matmul(draws["u"], xp.matrix_transpose(whitening.factor))
        return Draws(z, log_weights)
    values = {name: draws[name] for name in problem.layout.names}
    return Draws(problem.unconstrain(values, batch_ndim=1), log_weights)
