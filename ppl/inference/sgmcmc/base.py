"""What every stochastic-gradient sampler shares: options, step-size schedules, the minibatch
gradient, the automatic step, and the ``build`` of an ``Algorithm`` from an update rule (the
rules themselves: ``ppl.inference.sgmcmc.updates``).

An update rule (``Update``) moves a flat position given a gradient estimate of the potential;
``sgld``, ``psgld``, ``sghmc`` and ``sgnht`` are update rules plus ``make_sampler``, and
``structured_sgmcmc`` reuses the same rules with its own gradient estimate.

>>> from ppl.inference.sgmcmc.base import SGOptions, schedule_numpy
>>> opts = SGOptions(step_size=0.1, schedule="polynomial", decay_offset=10.0, decay_power=1.0)
>>> [round(x, 4) for x in schedule_numpy(opts, [0, 10, 90])]
[0.1, 0.05, 0.01]
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ...core import Algorithm, Capabilities
from ...errors import OptionError, UntrustedResultWarning, did_you_mean
from .. import data_parallel
from ..checks import check_runaway
from ..compiled import compiled
from ..option_types import check_field_types
from .updates import UPDATES, Update

__all__ = [
    "ChainStart",
    "CAPABILITIES",
    "SCHEDULES",
    "FrictionOptions",
    "PreconditionOptions",
    "SGInfo",
    "SGOptions",
    "SGState",
    "Update",
    "frame_of",
    "make_sampler",
    "control_variate",
    "controlled_gradient",
    "minibatch_gradient",
    "runaway_check",
    "schedule_numpy",
    "step_size_at",
    "UPDATES",
]

#: minibatch gradients (``batch_size``); the step depends on the problem, the options and the
#: state alone, so the driver compiles it once per model and data shapes
#: (``ppl.inference.compiled``)
#: and, with ``devices=N``, each minibatch split over ``N`` devices (``data_parallel``)
CAPABILITIES = Capabilities("mcmc", minibatch=True, shares_compiled_steps=True, data_parallel=True)
SCHEDULES = ("constant", "polynomial", "cyclical")
INIT_STRATEGIES = ("prior", "uniform")


@dataclass(frozen=True)
class SGOptions:
    """Options every stochastic-gradient sampler takes.

    num_warmup: burn-in steps, discarded. num_samples: draws kept per chain. num_chains:
    independent chains (vectorised on JAX). thinning: keep every n-th step after burn-in.
    step_size: the step size at step 0 (``epsilon``). schedule: ``"constant"``;
    ``"polynomial"``, ``step_size * (decay_offset / (decay_offset + t)) ** decay_power``
    (Welling & Teh's ``a (b + t)^-gamma`` with ``a = step_size * b^gamma``); or ``"cyclical"``,
    cSG-MCMC's cosine schedule (Zhang et al. 2020) restarting ``num_cycles`` times over the
    run. batch_size: a minibatch size set for the user: an int subsamples every plate larger
    than it, a dict ``{plate: size}`` names the plates; ``None`` keeps the model's own
    ``subsample_size``. init_strategy: ``"uniform"`` (uniform on
    (-2, 2) in unconstrained space, the default) or ``"prior"`` (a prior draw).

    ``step_size="auto"`` (the default): the chain starts at the MAP point ``m`` and moves in the
    coordinates whitened by the Laplace approximation there (``z = m + L u``,
    ``L = cholesky(H^-1)`` up to ``AUTO_MAX_DIM`` dimensions, as
    ``ppl.inference.warm_start.laplace_start`` gives it, and above, the diagonal
    ``H_ii^-1/2`` from Hutchinson's estimate, ``hutchinson_curvature``), where the posterior has
    roughly unit scale in every direction; the
    step size is then the largest that keeps two errors small on a unit-scale Gaussian: the
    discretisation's inflation of the variance (at most ~3%) and the minibatch gradient's
    (at most 10%, from the gradient noise measured at ``m`` on 16 minibatches). The rule per
    sampler is in ``AUTO_RULES``; ``timings`` count the MAP search in ``init_seconds``. With
    minibatches, the gradients carry the MAP point's control variate (``controlled_gradient``)
    where that at least doubles the step (small batches, whose noise would otherwise cut the
    step until the chain barely mixes); a diagonal frame's step is also divided by its
    stiffest direction's curvature.
    """

    num_warmup: int = 1000
    num_samples: int = 1000
    num_chains: int = 1
    thinning: int = 1
    step_size: float | str = "auto"
    schedule: str = "constant"
    decay_offset: float = 1000.0
    decay_power: float = 0.55
    num_cycles: int = 4
    batch_size: Any = None
    init_strategy: str = "uniform"

    def __post_init__(self):
        check_field_types(self)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("init_strategy", self.init_strategy, INIT_STRATEGIES)
        for name in ("num_samples", "num_chains", "thinning", "num_cycles"):
            if getattr(self, name) < 1:
                raise OptionError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.num_warmup < 0:
            raise OptionError(f"num_warmup must be at least 0, got {self.num_warmup}.")
        if isinstance(self.step_size, str):
            if self.step_size != "auto":
                raise OptionError(
                    f"step_size must be a positive number or 'auto', got {self.step_size!r}."
                )
        elif isinstance(self.step_size, bool) or not isinstance(self.step_size, int | float):
            raise OptionError(
                f"step_size must be a positive number or 'auto', got {self.step_size!r}."
            )
        elif not self.step_size > 0:
            raise OptionError(f"step_size must be positive, got {self.step_size}.")
        if self.decay_offset <= 0 or self.decay_power < 0:
            raise OptionError(
                "The polynomial schedule needs decay_offset > 0 and decay_power >= 0, got "
                f"{self.decay_offset} and {self.decay_power}."
            )
        friction = getattr(self, "friction", 1.0)
        if not 0 < friction <= 1 or getattr(self, "noise_estimate", 0.0) >= friction:
            raise OptionError(
                "friction must lie in (0, 1] and noise_estimate below it, got friction="
                f"{getattr(self, 'friction', None)} and noise_estimate="
                f"{getattr(self, 'noise_estimate', None)}."
            )
        sizes = self.batch_size
        if sizes is not None:
            values = sizes.values() if isinstance(sizes, Mapping) else [sizes]
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
                raise OptionError(
                    f"batch_size must be a positive int or a dict {{plate: positive int}}, got "
                    f"{sizes!r}."
                )

    @property
    def total_steps(self) -> int:
        return self.num_warmup + self.num_samples * self.thinning


@dataclass(frozen=True)
class PreconditionOptions:
    """RMSprop preconditioner (pSGLD): rms_decay is the moving-average weight ``alpha`` of the
    squared gradients, rms_eps the ``lambda`` added to their root."""

    rms_decay: float = 0.99
    rms_eps: float = 1e-5


@dataclass(frozen=True)
class FrictionOptions:
    """Second-order dynamics (SGHMC, SGNHT): friction is SGHMC's ``alpha`` (``1 - momentum``
    decay per step) and SGNHT's initial thermostat and diffusion ``A``; noise_estimate is
    SGHMC's ``beta_hat``, the estimated gradient-noise variance removed from the injected
    noise (must be below friction)."""

    friction: float = 0.1
    noise_estimate: float = 0.0


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise OptionError(
            f"Unknown {name} {value!r}; use one of {choices}." + did_you_mean(value, choices)
        )


# ---- schedules ---------------------------------------------------------------------------
def _schedule(options, t, cos, base):
    if options.schedule == "polynomial":
        b = options.decay_offset
        return base * (b / (b + t)) ** options.decay_power
    if options.schedule == "cyclical":
        period = math.ceil(options.total_steps / options.num_cycles)
        return base / 2 * (cos(math.pi * (t % period) / period) + 1)
    return base + 0 * t


def step_size_at(options, step, xp, dtype, base=None):
    """The step size at integer step ``step`` (an array), as an array of ``dtype``; ``base``:
    the step size at step 0 when it is not ``options.step_size`` (``"auto"``)."""
    if base is None:
        base = options.step_size
        if options.schedule == "constant":  # one array op instead of three (torch is eager)
            return xp.full((), base, dtype=dtype)
    return _schedule(options, xp.astype(step, dtype), xp.cos, base)


def schedule_numpy(options, steps) -> list[float]:
    """The schedule at ``steps`` as floats (for plots and checks)."""
    steps = np.asarray(steps, dtype=float)
    return [float(v) for v in _schedule(options, steps, np.cos, options.step_size)]


# ---- state, info, gradients ------------------------------------------------------------
class Frame(NamedTuple):
    """The whitened coordinates of ``step_size="auto"``: ``z = shift + factor u`` (``factor``
    a lower-triangular matrix, or a vector for a diagonal one) and its step size in them;
    ``seconds``, the cost of the warm start and the noise measurement, ``fallback``, the
    warm start's ``WarmStart.fallback`` (``ppl.inference.warm_start``), and ``anchor_grad``,
    the full-data gradient at ``shift`` when the minibatch gradients carry its control variate
    (``controlled_gradient``), else ``None``."""

    shift: Any
    factor: Any
    inverse: Any
    step_size: Any
    seconds: Any
    fallback: Any
    anchor_grad: Any = None


class SGState(NamedTuple):
    """position: the flat unconstrained point; step: the step count (for schedules); aux: the
    update rule's own state (momentum, preconditioner, thermostat), in the chain's frame;
    frame: the whitened coordinates (``step_size="auto"``) or ``None``."""

    position: Any
    step: Any
    aux: Any
    frame: Any = None


class SGInfo(NamedTuple):
    """step_size: the step size used; potential: the minibatch estimate of the potential."""

    step_size: Any
    potential: Any


def minibatch_gradient(problem) -> Callable:
    """``(z, key) -> (U, dU/dz)``: the potential on a fresh minibatch drawn from ``key``
    (the full data when the model has no subsampled plate), split over the devices of
    ``devices=N`` (``ppl.inference.data_parallel``)."""
    return data_parallel.gradient(problem)


def controlled_gradient(value_and_grad, frame, z, key):
    """``(U, dU/dz)`` on the minibatch of ``key``; where ``frame`` has an anchor, the gradient
    carries its control variate (SGLD-CV, Baker et al. 2019): ``g_B(z) - g_B(m) + g(m)``, the
    same minibatch ``B`` at ``z`` and at the MAP point ``m``, plus the full-data gradient there.
    Unbiased like ``g_B(z)``, with a noise that vanishes as ``z`` nears ``m`` instead of growing
    as ``N / B``; it costs a second minibatch gradient per step."""
    value, grad = value_and_grad(z, key)
    correction = control_variate(value_and_grad, frame, key)
    return value, grad if correction is None else grad + correction


def control_variate(value_and_grad, frame, key):
    """``g(m) - g_B(m)``, the term ``controlled_gradient`` adds to a minibatch gradient on the
    minibatch of ``key``, or ``None`` where ``frame`` has no anchor. One term serves every
    point on that minibatch (structured SG-MCMC's mixed points: unbiased at any point)."""
    if frame is None or frame.anchor_grad is None:
        return None
    return frame.anchor_grad - value_and_grad(frame.shift, key)[1]


def initial_position(problem, key, options):
    from ..optimize import compiled_value_and_grad

    check = compiled_value_and_grad(problem)  # one program, not the model op by op
    return problem.init(key, options.init_strategy, value_and_grad=check)


#: auto step size per base update rule, given the friction and the largest per-coordinate
#: variance ``v`` of the minibatch gradient in whitened coordinates (see ``SGOptions``):
#: SGLD/pSGLD inflate the variance by ``eps/4`` (discretisation) and ``eps v/4`` (gradient
#: noise); SGHMC by ~``eta`` and ``eta v / (2 friction)``; SGNHT by ~``h^2`` and
#: ``h v / (2 friction)``, which its thermostat then absorbs (so up to 1 is allowed).
AUTO_RULES: dict[str, Callable[[float, float], float]] = {
    "sgld": lambda friction, v: min(0.1, 0.4 / v),
    "cyclical_sgld": lambda friction, v: min(0.1, 0.4 / v),  # its peak: every step keeps the bound
    "psgld": lambda friction, v: min(0.1, 0.4 / v) * math.sqrt(1.0 + v),  # G ~ 1/sqrt(1 + v)
    "sghmc": lambda friction, v: min(0.01, 0.2 * friction / v),
    "sgnht": lambda friction, v: min(0.1, 2.0 * friction / v),  # its thermostat absorbs noise
}
#: the step a rule's step size ``eps`` moves by at gradient noise ``v``, where it differs from
#: ``eps``: pSGLD's preconditioner scales its steps by ~``1 / sqrt(1 + v)``
EFFECTIVE_STEPS: dict[str, Callable[[float, float], float]] = {
    "psgld": lambda eps, v: eps / math.sqrt(1.0 + v),
}
#: steps a unit-scale whitened direction takes to relax (its mean's ``1/e`` time, in which its
#: variance grows from 0 at the MAP point to ``1 - e^-2`` = 86% of its law's) at effective step
#: ``eps``: SGLD contracts by ``1 - eps/2`` a step; SGHMC (``v' = (1 - a) v - eta u``) by
#: ``a / 2`` underdamped, ``eta / a`` overdamped; SGNHT is SGHMC at ``eta = h^2``, ``a = h xi``
RELAXATION_STEPS: dict[str, Callable[[float, float], float]] = {
    "sgld": lambda eps, friction: 2.0 / eps,
    "cyclical_sgld": lambda eps, friction: 2.0 / eps,  # at its peak step: a lower bound
    "psgld": lambda eps, friction: 2.0 / eps,
    "sghmc": lambda eta, a: max(2.0 / a, a / eta),
    "sgnht": lambda h, xi: max(2.0 / (h * xi), xi / h),
}
#: the largest dimension whitened with a dense Laplace factor; above it, a diagonal one
AUTO_MAX_DIM = 2000
#: L-BFGS iterations of the one MAP search above ``AUTO_MAX_DIM`` dimensions (each one a
#: full-data gradient; ``laplace_start``'s 4 starts of 1,000 cost ~30 s on a 2,082-weight BNN)
LARGE_MAP_ITERATIONS = 200


def _diagonal_start(problem, key):
    """``(shift, factor, inverse, fallback)`` above ``AUTO_MAX_DIM`` dimensions: one L-BFGS
    search of ``LARGE_MAP_ITERATIONS`` from a uniform draw, and the diagonal Laplace factor
    ``H_ii^-1/2`` there, ``H_ii`` from Hutchinson's estimator with its floor
    (``ppl.inference.warm_start.floored_curvature``: ``HUTCHINSON_PROBES`` Rademacher probes,
    two full-data gradients each, whatever the dimension; the exact diagonal by central
    differences took ``2 dim`` of them, hours at 20,000 weights and 10,000 rows).
    ``laplace_start``'s importance check is left out: in thousands of dimensions (a neural
    network's weights) no Gaussian's importance draws have any effective size, and its
    fallback (mean-field VI from the prior) cost a minute where the sampler needs only a scale
    per coordinate; a coordinate whose estimate is below zero takes the floor's scale too (the
    step size is then also bounded by the stiffest direction, ``_largest_curvature``)."""
    from ..optimize import find_map
    from ..warm_start import floored_curvature

    backend = problem.backend
    probe_key = backend.split(key, 3)[2]  # the search keeps ``key``: the same MAP as before
    shift = find_map(problem, key, LARGE_MAP_ITERATIONS, num_starts=1)
    z = np.asarray(backend.to_numpy(shift), np.float64)
    curvature, _ = floored_curvature(problem, z, probe_key)
    if not np.isfinite(curvature).all():
        raise OptionError(
            f"step_size='auto' found no positive curvature at the MAP point of this "
            f"{problem.dim}-dimensional model; pass a number (step_size=1e-4, say)."
        )
    fallback = backend.asarray(np.asarray(0, dtype=np.int32))
    return shift, backend.asarray(curvature**-0.5), backend.asarray(curvature**0.5), fallback


#: power iterations for the largest curvature in a diagonal frame, and their difference step
POWER_ITERATIONS, POWER_STEP = 20, 1e-2


def _largest_curvature(problem, shift, factor) -> float:
    """The largest eigenvalue of the potential's Hessian at ``shift`` in the diagonal frame
    ``z = shift + factor * u`` (power iteration on Hessian-vector products from central
    differences of the full-data gradient). A diagonal factor gives unit curvature along each
    coordinate, but correlated coordinates (a network's interchangeable units) leave directions
    far stiffer than that, and the step-size rules assume unit scale."""
    backend, xp = problem.backend, problem.backend.xp
    value_and_grad = compiled(problem, "value_and_grad", lambda p: p.value_and_grad)
    v = backend.normal(backend.key(0), tuple(shift.shape))
    value = 1.0
    for _ in range(POWER_ITERATIONS):
        v = v / xp.sqrt(xp.sum(v * v))
        step = POWER_STEP * factor * v
        plus, minus = value_and_grad(shift + step)[1], value_and_grad(shift - step)[1]
        hv = (plus - minus) * factor / (2 * POWER_STEP)
        value = float(backend.to_numpy(xp.sum(v * hv)))
        v = hv
    return value


def _whitened_gradient(grad, factor, xp):
    """The gradient in whitened coordinates, ``grad @ factor`` (``factor``: a matrix or the
    vector of a diagonal one)."""
    return grad * factor if factor.ndim == 1 else xp.matmul(grad, factor)


def auto_frame(problem, key, options, rule: str, blocks=None, control=True) -> Frame:
    """The MAP point, the Laplace factor there (dense up to ``AUTO_MAX_DIM`` dimensions,
    diagonal above), and the step size ``AUTO_RULES[rule]`` gives for the gradient noise
    measured there. ``blocks``: ``(num_groups, dim)`` 0/1 masks whose cross-group covariance
    is dropped, so that the whitening does not mix groups (structured SG-MCMC; a diagonal
    factor mixes none). ``control``: with minibatches, give the gradients the MAP point's
    control variate (``controlled_gradient``) when the step the rule allows with it, measured at
    ``CV_POINTS`` draws of the Laplace approximation, moves at least twice as far as the step
    without (``EFFECTIVE_STEPS``; it costs a second gradient per step)."""
    from ..warm_start import laplace_start

    backend, xp = problem.backend, problem.backend.xp
    begin = time.perf_counter()
    map_key, noise_key = backend.split(key)
    if problem.dim > AUTO_MAX_DIM:
        shift, factor, inverse, fallback = _diagonal_start(problem, map_key)
    else:
        warm = laplace_start(problem, map_key, max_dense_dim=AUTO_MAX_DIM)
        shift, factor, inverse, fallback = warm.shift, warm.factor, warm.inverse, warm.fallback
    if blocks is not None and factor.ndim == 2:
        dense = np.asarray(backend.to_numpy(factor), np.float64)
        same_group = np.asarray(blocks).T @ np.asarray(blocks)
        factor = backend.asarray(np.linalg.cholesky((dense @ dense.T) * same_group))
        inverse = xp.linalg.inv(factor)
    value_and_grad = compiled(problem, "value_and_grad", lambda p: p.value_and_grad)
    friction = getattr(options, "friction", 0.1)
    plain_key, points_key = backend.split(noise_key)
    effective = EFFECTIVE_STEPS.get(rule, lambda eps, v: eps)
    noise = _gradient_noise(backend, [shift], plain_key, value_and_grad, None, factor)
    eps, anchor, used = AUTO_RULES[rule](friction, noise), None, noise
    if control and problem.subsample_plates:
        frame = Frame(shift, factor, inverse, None, None, None, value_and_grad(shift)[1])
        u = backend.normal(points_key, (CV_POINTS, problem.dim))
        points = [shift + (factor * r if factor.ndim == 1 else xp.matmul(factor, r)) for r in u]
        cv_noise = _gradient_noise(backend, points, plain_key, value_and_grad, frame, factor)
        cv_eps = AUTO_RULES[rule](friction, cv_noise)
        if effective(cv_eps, cv_noise) >= 2 * effective(eps, noise):  # worth a second gradient
            eps, anchor, used = cv_eps, frame.anchor_grad, cv_noise
    if factor.ndim == 1:  # the rules assume unit curvature: scale down by the stiffest direction
        eps = eps / max(1.0, _largest_curvature(problem, shift, factor))
    _check_relaxation(rule, effective(eps, used), friction, options)
    seconds = backend.asarray(time.perf_counter() - begin)
    eps = xp.asarray(eps, dtype=shift.dtype)
    return Frame(shift, factor, inverse, eps, seconds, fallback, anchor)


def _check_relaxation(rule, eps, friction, options) -> None:
    """Warn (``UntrustedResultWarning``) where the auto step is too small for the chain, which
    starts at the MAP point, to spread to the posterior's width within ``num_warmup`` steps
    (``RELAXATION_STEPS``): its draws would be too narrow, quietly (issue 25: at 1% batches
    without the control variate, structured SG-MCMC's sds came out 0.15x the posterior's)."""
    steps = RELAXATION_STEPS[rule](eps, friction)
    if steps <= options.num_warmup:
        return
    warnings.warn(
        f"step_size='auto' chose a step of {eps:.2g} in the Laplace-whitened coordinates (small "
        f"batches' gradient noise bounds it), at which the chain needs ~{steps:,.0f} steps "
        f"to spread from the MAP point to the posterior's width, more than num_warmup="
        f"{options.num_warmup}: its draws will be too narrow and its means off. Raise "
        f"num_warmup above {math.ceil(steps):,} (and num_samples with it), or batch_size (the "
        "noise falls as 1 / batch_size).",
        UntrustedResultWarning,
        stacklevel=2,
    )


#: points of the Laplace approximation where the control variate's noise is measured
CV_POINTS = 4


def _gradient_noise(backend, points, key, value_and_grad, frame, factor) -> float:
    """The largest per-coordinate variance of the (controlled) minibatch gradient in whitened
    coordinates over 16 minibatches at each of ``points``."""
    worst, xp = 0.0, backend.xp
    for z in points:
        grads = [
            _whitened_gradient(controlled_gradient(value_and_grad, frame, z, k)[1], factor, xp)
            for k in backend.split(key, 16)
        ]
        mean = sum(grads) / len(grads)
        spread = sum((g - mean) ** 2 for g in grads) / (len(grads) - 1)
        worst = max(worst, float(np.max(np.asarray(backend.to_numpy(spread)))))
    return worst + 1e-12


class ChainStart:
    """``start(key) -> (position, frame)`` at step 0 of every chain of one run: the initial
    position and no frame, or, for ``step_size="auto"``, the MAP point and its whitened frame
    (``auto_frame``), found from the first chain's key and shared by the others (so ``build``
    makes one per run; the frame then travels in each chain's state). Structured SG-MCMC (its
    ``blocks``) takes the control variate by the same rule (unbiased at its mixed points too:
    without it, its sds came out 0.15x the posterior's at 0.1% batches, issue 25)."""

    def __init__(self, problem, options, rule: str, blocks=None):
        self.problem, self.options, self.rule, self.blocks = problem, options, rule, blocks
        self._frame: Frame | None = None

    def __call__(self, key):
        if self.options.step_size != "auto":
            return initial_position(self.problem, key, self.options), None
        if self._frame is None:
            self._frame = auto_frame(self.problem, key, self.options, self.rule, self.blocks)
        return self._frame.shift, self._frame


def move(update: Update, position, aux, grad, eps, key, backend, options, frame):
    """``update`` applied in the chain's frame (whitened coordinates when there is one)."""
    if frame is None:
        return update.apply(position, aux, grad, eps, key, backend, options)
    xp, grad = backend.xp, _whitened_gradient(grad, frame.factor, backend.xp)
    if frame.factor.ndim == 1:  # diagonal
        u = (position - frame.shift) * frame.inverse
        u, aux = update.apply(u, aux, grad, eps, key, backend, options)
        return frame.shift + u * frame.factor, aux
    u = xp.matmul(position - frame.shift, xp.matrix_transpose(frame.inverse))
    u, aux = update.apply(u, aux, grad, eps, key, backend, options)
    return frame.shift + xp.matmul(u, xp.matrix_transpose(frame.factor)), aux


def frame_step_size(frame):
    return None if frame is None else frame.step_size


def step_counter(backend, value: int = 0):
    return backend.asarray(np.asarray(value, dtype=np.int64))


def step_keys(backend, key):
    """``(minibatch, noise, other)`` keys of one step; the third is structured SG-MCMC's (its
    buffer draws), so that with one group it moves exactly as its base sampler."""
    return backend.split(key, 3)


def frame_of(state):
    """``Algorithm.warm_start`` of the SG-MCMC samplers: the whitened frame of
    ``step_size="auto"`` (its warm start: the MAP point, the Laplace factor, their cost), or
    ``None``."""
    return state.frame


def runaway_check(problem) -> Callable:
    """``Algorithm.check_info`` of the SG-MCMC samplers: ``checks.check_runaway`` on
    ``problem``'s dimension (every chunk's ``info`` has each step's ``potential``)."""

    def check_info(info: dict, first_step: int, method: str) -> None:
        check_runaway(problem.dim, info, first_step, method)

    return check_info


def make_sampler(rule: str, auto_rule: str | None = None):
    """``build(problem, options) -> Algorithm`` of the sampler that moves by the update rule
    ``UPDATES[rule]`` along minibatch gradients, its ``step_size="auto"`` given by
    ``AUTO_RULES[auto_rule or rule]``."""
    update = UPDATES[rule]
    auto_rule = auto_rule or rule

    def build(problem, options) -> Algorithm:
        backend = problem.backend
        start = ChainStart(problem, options, auto_rule)
        value_and_grad = minibatch_gradient(problem)

        def init(key):
            z, frame = start(key)
            aux = update.init(z, backend, options, frame)
            return SGState(z, step_counter(backend), aux, frame)

        def step(state, key):
            grad_key, noise_key = step_keys(backend, key)[:2]
            value, grad = controlled_gradient(value_and_grad, state.frame, state.position, grad_key)
            dtype = state.position.dtype
            eps = step_size_at(options, state.step, backend.xp, dtype, frame_step_size(state.frame))
            z, aux = move(update, state.position, state.aux, grad, eps, noise_key, backend,
                          options, state.frame)  # fmt: skip
            return SGState(z, state.step + 1, aux, state.frame), SGInfo(eps, value)

        return Algorithm(
            init, step, CAPABILITIES, check_info=runaway_check(problem), warm_start=frame_of
        )

    return build
