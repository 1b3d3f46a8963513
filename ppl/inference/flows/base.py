"""What the flow samplers share: options, state, and the ``build`` of an ``Algorithm``
(``init`` / ``step`` / ``sample`` / ``check_info``).

``step`` takes one optimiser step on ``batch_size`` fresh forward paths (the energy-based
reverse KL, ``mean(-log w)``) and, with ``data=``, ``batch_size`` data rows (maximum
likelihood, ``-mean(log q(x))``): the first ``ml_steps`` steps on the likelihood alone, the rest
on ``KL + ml_weight * ML``. A step whose loss or any layer's log-determinant is not finite is
halted (the parameters and the optimiser's state stay as they were) and recorded in
``info.bad_layer``; ``check_info``, which the driver calls after every chunk of steps, turns it
into a ``DivergenceError`` naming the layer. ``sample`` returns ``num_samples`` fresh forward
paths' end points (unweighted) and log-weights, from which the driver computes
``Posterior.log_z`` and the ESS.

>>> from ppl.inference.flows.realnvp import Options
>>> Options(ml_steps=10)  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
ppl.errors.OptionError: ml_steps=10 trains on data, but data= is not given. Pass data= ...
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ...core import Algorithm, Capabilities, Draws
from ...errors import DivergenceError, OptionError, did_you_mean
from .. import nn
from ..option_types import check_field_types
from ..q0 import INITS
from .blocks import KERNELS, Flow

__all__ = [
    "CAPABILITIES",
    "FIXED_STEP",
    "FlowInfo",
    "FlowState",
    "LEARNED_STEP_START",
    "Options",
    "StochasticOptions",
    "make_algorithm",
]

#: the step depends on the problem, the options and the state alone, so the driver compiles it
#: once per model and data shapes (``ppl.inference.compiled``)
CAPABILITIES = Capabilities(kind="fit", shares_compiled_steps=True, compiles_step=True)
#: the stochastic blocks' default step sizes: the start of a learned one, and the paper's fixed
LEARNED_STEP_START, FIXED_STEP = 0.05, 0.25


def _check_choice(what: str, value, choices) -> None:
    if value not in choices:
        raise OptionError(
            f"Unknown {what} {value!r}; use one of {choices}." + did_you_mean(value, choices)
        )


@dataclass(frozen=True)
class Options:
    """Options of the RealNVP flow and its training.

    num_blocks: RealNVP blocks (two affine coupling layers each). hidden / activation: the
    coupling layers' MLPs (hidden widths; one of ``nn.ACTIVATIONS``). num_steps: optimiser
    steps. batch_size: paths (and data rows) per step. num_samples: paths drawn at the end
    (the draws and the log-weights of ``log_z``). lr / optimizer: the optimiser.
    init_q0: the base layer ``loc + scale z`` at the start: ``"standard"`` (the identity, so
    the flow starts at ``N(0, I)``), ``"prior"`` (the prior's moments in unconstrained space)
    or ``"vi"`` (mean-field VI from there, ``vi_steps`` Adam steps at ``vi_lr``).
    data: optional samples of the target, an array ``(n, dim)`` of points of the model's flat
    unconstrained space (for sites on ``R^k``, the site values, in site order); ml_steps:
    steps on the likelihood of ``data`` alone before the energy term joins; ml_weight: the
    weight of the likelihood after that (0: energy only).
    warm_start: run the flow in the coordinates whitened by the Laplace approximation at the
    MAP point (``ppl.inference.warm_start``), so that its base ``N(0, I)`` is that
    approximation (``init_q0="vi"`` refines it there by mean-field VI; ``"prior"`` takes the
    prior's moments in those coordinates instead); ``False``: the problem's own coordinates,
    the base by ``init_q0``. Its cost is ``Posterior.timings["warm_start_seconds"]``.
    """

    num_blocks: int = 3
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    num_steps: int = 300
    batch_size: int = 128
    num_samples: int = 1000
    lr: float = 5e-3
    optimizer: str = "adam"
    init_q0: str = "standard"
    vi_steps: int = 200
    vi_lr: float = 0.05
    data: Any = field(default=None, hash=False, compare=False)
    ml_steps: int = 0
    ml_weight: float = 1.0
    warm_start: bool = True

    def __post_init__(self):
        check_field_types(self)
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        nn.check_activation(self.activation)
        _check_choice("init_q0", self.init_q0, INITS)
        for name, least in (("num_blocks", 1), ("batch_size", 2), ("num_samples", 1)):
            if getattr(self, name) < least:
                raise OptionError(f"{name} must be at least {least}, got {getattr(self, name)}.")
        for name in ("num_steps", "vi_steps", "ml_steps", "ml_weight"):
            if getattr(self, name) < 0:
                raise OptionError(f"{name} must be at least 0, got {getattr(self, name)}.")
        for name in ("lr", "vi_lr"):
            if not getattr(self, name) > 0:
                raise OptionError(f"{name} must be positive, got {getattr(self, name)}.")
        if min(self.hidden, default=1) < 1:
            raise OptionError(f"hidden sizes must be positive, got {self.hidden}.")
        if self.data is None:
            if self.ml_steps:
                raise OptionError(
                    f"ml_steps={self.ml_steps} trains on data, but data= is not given. Pass "
                    "data= (an array of shape (n, dim)) or set ml_steps=0."
                )
            return
        try:
            data = np.array(self.data, dtype=float)
        except (TypeError, ValueError) as error:
            raise OptionError(
                "data= must be an array of numbers of shape (n, dim), got "
                f"{type(self.data).__name__} ({error})."
            ) from None
        if data.ndim == 1:
            data = data[:, None]
        if data.ndim != 2 or data.shape[0] < 1:
            raise OptionError(
                f"data= must be an array of shape (n, dim) with n >= 1, got shape {data.shape}."
            )
        if not np.isfinite(data).all():
            raise OptionError(f"data= has {int((~np.isfinite(data)).sum())} NaN or inf values.")
        data.setflags(write=False)
        object.__setattr__(self, "data", data)


@dataclass(frozen=True)
class StochasticOptions(Options):
    """``Options`` plus the stochastic blocks, one after each RealNVP block: ``mc_steps``
    steps of ``kernel`` (``"mh"``: random-walk Metropolis with proposal scale ``step_size``;
    ``"mala"`` / ``"ula"``: Metropolis-adjusted / unadjusted Langevin with step size
    ``step_size``, proposal variance ``2 step_size``); each block has its own step size,
    starting at ``step_size``. ``learn_step_size`` (the default) trains the step sizes with
    the flow, from 0.05 unless ``step_size`` is given, as in the paper's adaptive-MC notebook;
    ``learn_step_size=False`` keeps them fixed, at 0.25 unless given: the paper's setting.
    On the paper's double well the learned steps halve the free-energy profile error of fixed
    ones (``benchmarks/RESULTS.md``)."""

    kernel: str = "mh"
    mc_steps: int = 20
    step_size: float | None = None
    learn_step_size: bool = True

    def __post_init__(self):
        super().__post_init__()
        _check_choice("kernel", self.kernel, KERNELS)
        if self.mc_steps < 1:
            raise OptionError(f"mc_steps must be at least 1, got {self.mc_steps}.")
        step = self.step_size
        if step is not None and (
            isinstance(step, (bool, np.bool_))
            or not isinstance(step, numbers.Real)
            or not 0 < step < math.inf
        ):
            raise OptionError(f"step_size must be a positive number or None, got {step!r}.")

    @property
    def initial_step_size(self) -> float:
        """Each stochastic block's step size at the start: ``step_size``, or its default
        (0.05 when learned, the paper's fixed 0.25 otherwise)."""
        if self.step_size is not None:
            return float(self.step_size)
        return LEARNED_STEP_START if self.learn_step_size else FIXED_STEP


class FlowState(NamedTuple):
    """``params``: the trained parameters; ``fixed``: the rest (an SNF's step sizes unless
    learned); ``opt_state``: the optimiser's state; ``step``: steps taken."""

    params: dict
    fixed: dict
    opt_state: Any
    step: Any


class FlowInfo(NamedTuple):
    """Per step: the loss, the batch's estimate of ``log Z`` (NaN in the likelihood-only
    phase, which draws no forward paths), the mean acceptance rate of the stochastic steps (1
    without them), and the first layer whose log-determinant was not finite (-1: none; the
    step was halted otherwise)."""

    loss: Any
    log_z: Any
    accept_prob: Any
    bad_layer: Any


def _batch_log_z(backend, w):
    return backend.logsumexp(w) - backend.xp.log(backend.xp.asarray(w.shape[0], dtype=w.dtype))


def _first_bad(xp, ok):
    """Index of the first ``False`` in ``ok``, or -1."""
    index = xp.argmin(xp.astype(ok, xp.int32))
    return xp.where(xp.all(ok), xp.full_like(index, -1), index)


def make_algorithm(stochastic: bool):
    """``build(problem, options) -> Algorithm``, with or without stochastic blocks: the
    ``Flow`` and the optimizer are built once per problem and closed over; the parameters, the
    optimizer's state and the warm start are in the state."""

    def build(problem, options) -> Algorithm:
        backend, xp = problem.backend, problem.backend.xp
        flow = Flow(problem, options, stochastic)
        optimizer = backend.optimizer(options.optimizer, options.lr)

        def init(key) -> FlowState:
            theta = flow.initial_theta(key)
            learn_step = stochastic and options.learn_step_size
            fixed = {
                k: v
                for k, v in theta.items()
                if k == "warm" or (k == "log_step" and not learn_step)
            }
            params = {k: v for k, v in theta.items() if k not in fixed}
            return FlowState(params, fixed, optimizer.init(params), xp.asarray(0))

        def step(state, key):
            return _step(backend, flow, optimizer, options, state, key)

        def sample(state, key, num_samples) -> Draws:
            z, log_weights = flow.sample({**state.fixed, **state.params}, key, num_samples)
            return Draws(z, log_weights)

        def check_info(info: dict, first_step: int, method: str) -> None:
            """Raise a ``DivergenceError`` naming the layer (and the step) of the first halted
            step in a chunk's ``info`` (numpy arrays over its steps), if any."""
            _check_halted(flow, info, first_step, method)

        return Algorithm(
            init=init,
            step=step,
            capabilities=CAPABILITIES,
            sample=sample,
            check_info=check_info,
            warm_start=lambda state: state.fixed.get("warm"),  # the flow's ``WarmStart``
        )

    return build


def _step(backend, flow, optimizer, options, state, key):
    """One optimiser step (see the module docstring)."""
    xp = backend.xp
    kl_key, ml_key, data_key = backend.split(key, 3)
    n = options.batch_size
    batch = flow.data_batch(data_key, n) if flow.data is not None else None

    def kl_and_ml(params):
        theta = {**state.fixed, **params}
        path = flow.forward(theta, kl_key, n)
        loss, ok = -xp.mean(path.log_weights), path.layer_ok
        if batch is not None and options.ml_weight > 0:
            log_q, ml_ok = flow.log_likelihood(theta, batch, ml_key)
            loss, ok = loss - options.ml_weight * xp.mean(log_q), ok & ml_ok
        return loss, (path.log_weights, ok, path.accept)

    def ml_only(params):
        log_q, ok = flow.log_likelihood({**state.fixed, **params}, batch, ml_key)
        nan = xp.full((n,), xp.nan, dtype=log_q.dtype)
        return -xp.mean(log_q), (nan, ok, xp.ones_like(log_q[0]))

    kl_grad = backend.value_and_grad(kl_and_ml, has_aux=True)
    if options.ml_steps:
        ml_grad = backend.value_and_grad(ml_only, has_aux=True)
        (value, (w, ok, accept)), grads = backend.cond(
            state.step < options.ml_steps, ml_grad, kl_grad, state.params
        )
    else:
        (value, (w, ok, accept)), grads = kl_grad(state.params)
    good = xp.isfinite(value) & xp.all(ok)
    for leaf in backend.tree_leaves(grads):
        good = good & xp.all(xp.isfinite(leaf))
    update = optimizer.update
    params, opt_state = backend.cond(  # a halted step keeps both as they were
        good,
        lambda g, s, p: update(g, s, p),
        lambda g, s, p: (p, s),
        grads,
        state.opt_state,
        state.params,
    )
    bad = _first_bad(xp, ok)
    bad = xp.where(good | (bad >= 0), bad, xp.full_like(bad, ok.shape[0]))
    info = FlowInfo(value, _batch_log_z(backend, w), accept, bad)
    return FlowState(params, state.fixed, opt_state, state.step + 1), info


def _check_halted(flow, info: dict, first_step: int, method: str) -> None:
    bad = np.asarray(info.get("bad_layer", ())).reshape(-1)
    halted = np.flatnonzero(bad >= 0)
    if not len(halted):
        return
    at = int(halted[0])
    layer = int(bad[at])
    if layer < len(flow.layer_names):
        what = f"the log-determinant of the {flow.layer_names[layer]} became NaN or inf"
    else:
        what = "the loss or its gradient became NaN or inf (every log-determinant was finite)"
    raise DivergenceError(
        f"{method}: {what} at step {first_step + at}; the step was halted. Lower lr, or check "
        "the model's potential for regions where it is not finite."
    )
