"""What the diffusion family shares: options, the four variants, and the ``build`` of an
``Algorithm`` (``init`` / ``step`` / ``sample``) from a variant.

A trainable variant's ``step`` takes one optimiser step on its loss over ``batch_size`` fresh
paths; AIS's ``step`` adapts its step size towards ``target_accept`` instead (Robbins-Monro on
``log eps``), so ``num_steps=0`` runs plain AIS with the given ``eps``. ``sample`` draws
``num_samples`` fresh paths and returns their end points and log-weights, from which the driver
computes ``Posterior.log_z``. The draws in ``Posterior.samples`` are the end points as they come
(unweighted); ``Posterior.diagnostics["log_weights"]`` holds their weights for reweighting.

>>> from ppl.inference.diffusion.base import TrainOptions
>>> TrainOptions(loss="logvra")
Traceback (most recent call last):
    ...
ppl.errors.OptionError: Unknown loss 'logvra'; use one of ('kl', 'logvar'). Did you mean 'logvar'?
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from ...core import Algorithm, Capabilities, Draws
from ...errors import OptionError, did_you_mean
from .. import nn
from ..option_types import check_field_types
from ..q0 import INITS
from .path import Diffusion, Variant

__all__ = [
    "AIS",
    "CAPABILITIES",
    "CMCD",
    "LOSSES",
    "MCD",
    "NetOptions",
    "Options",
    "SCHEDULES",
    "TrainOptions",
    "ULA",
    "DiffusionInfo",
    "DiffusionState",
    "make_algorithm",
]

#: the step depends on the problem, the options and the state alone, so the driver compiles it
#: once per model and data shapes (``ppl.inference.compiled``)
CAPABILITIES = Capabilities(kind="fit", shares_compiled_steps=True, compiles_step=True)
LOSSES = ("kl", "logvar")
SCHEDULES = ("constant", "cossq")
#: Robbins-Monro decay of AIS's step-size adaptation: the rate at step t is (t + 1) ** -power
ADAPT_POWER = 0.6

ULA = Variant("ula", forward_net=False, backward_net=False, move="langevin", trains=True)
MCD = Variant("mcd", forward_net=False, backward_net=True, move="langevin", trains=True)
CMCD = Variant("cmcd", forward_net=True, backward_net=True, move="langevin", trains=True)
AIS = Variant("ais", forward_net=False, backward_net=False, move="mala", trains=False)


def _check_choice(what: str, value, choices) -> None:
    if value not in choices:
        raise OptionError(
            f"Unknown {what} {value!r}; use one of {choices}." + did_you_mean(value, choices)
        )


@dataclass(frozen=True)
class Options:
    """Options of every diffusion sampler: the path, ``q0`` and the particles.

    K: number of annealing steps (``beta_1..beta_K = 1``). num_steps: training steps (AIS:
    step-size adaptation steps). batch_size: paths per training step. num_samples: paths drawn
    at the end (the draws and the log-weights of ``log_z``). eps: initial step size, in units of
    the inverse curvature of ``U_beta`` along the path (see ``Diffusion.step_sizes``), so the
    same value suits targets of any scale.
    schedule: the step size along the path, ``"constant"`` or ``"cossq"`` (``cos^2`` decay).
    init_q0: ``q0``'s initialisation, ``"vi"`` (mean-field VI from the prior's moments),
    ``"prior"`` (the prior's moments in unconstrained space) or ``"standard"`` (``N(0, I)``).
    init_scale: factor on the initial standard deviation of ``q0``. vi_steps / vi_lr: Adam
    steps and learning rate of the ``"vi"`` fit. vi_starts: the ``"vi"`` fit is run from the
    warm start and from ``vi_starts - 1`` prior draws, and again from ``vi_starts`` more while
    a round finds new modes (at most 4 rounds); where the fits find several modes, ``q0`` is
    the equal-weight mixture of one fit per mode and a broad component, the prior's moments
    (``ppl.inference.q0.cover_modes``), so that every mode gets paths (one fit seeks one mode,
    and the path does not cross a high barrier); 1: the first fit alone. score_clip: the
    target's score ``-grad U`` is clipped to ``[-score_clip, score_clip]`` inside the drifts
    (the weights stay exact).
    warm_start: run the whole path in the coordinates whitened by the Laplace approximation at
    the MAP point (``ppl.inference.warm_start``); ``q0`` there by ``init_q0``: ``"vi"``
    refines the Laplace approximation ``N(0, I)`` by mean-field VI, ``"standard"`` keeps it,
    ``"prior"`` takes the prior's moments (for targets with several modes); ``False``: the
    problem's own coordinates and ``q0`` by ``init_q0`` from the prior. Its cost is
    ``Posterior.timings["warm_start_seconds"]``.
    """

    K: int = 16
    num_steps: int = 300
    batch_size: int = 32
    num_samples: int = 1000
    eps: float = 0.2
    schedule: str = "constant"
    init_q0: str = "vi"
    init_scale: float = 1.0
    vi_steps: int = 200
    vi_lr: float = 0.05
    vi_starts: int = 8
    score_clip: float = 1e3
    warm_start: bool = True

    def __post_init__(self):
        check_field_types(self)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("init_q0", self.init_q0, INITS)
        for name, least in (("K", 1), ("batch_size", 2), ("num_samples", 1), ("vi_starts", 1)):
            if getattr(self, name) < least:
                raise OptionError(f"{name} must be at least {least}, got {getattr(self, name)}.")
        for name in ("num_steps", "vi_steps"):
            if getattr(self, name) < 0:
                raise OptionError(f"{name} must be at least 0, got {getattr(self, name)}.")
        for name in ("eps", "init_scale", "vi_lr", "score_clip"):
            if not getattr(self, name) > 0:
                raise OptionError(f"{name} must be positive, got {getattr(self, name)}.")


@dataclass(frozen=True)
class TrainOptions(Options):
    """``Options`` plus training: loss ``"kl"`` (the reverse KL between the path measures, the
    negative ELBO, reparameterised through the path: it needs second derivatives of the
    potential) or ``"logvar"`` (the variance of the log-weights over paths held fixed: first
    derivatives only, cheaper, but less stable on targets as rough as the funnel); optimizer and
    lr; and which parameters are learned besides the network: ``learn_eps`` (the step size),
    ``learn_betas`` (the annealing schedule, a cumulative softmax) and ``learn_q0`` (``q0``'s
    mean and scale)."""

    lr: float = 5e-3
    optimizer: str = "adam"
    loss: str = "kl"
    learn_eps: bool = True
    learn_betas: bool = True
    learn_q0: bool = True

    def __post_init__(self):
        super().__post_init__()
        _check_choice("loss", self.loss, LOSSES)
        if not self.lr > 0:
            raise OptionError(f"lr must be positive, got {self.lr}.")


@dataclass(frozen=True)
class NetOptions(TrainOptions):
    """``TrainOptions`` plus the network (``ppl.inference.nn.time_mlp``): hidden layer widths,
    the time embedding's width (even) and the activation."""

    hidden: tuple[int, ...] = (32, 32)
    embed_dim: int = 16
    activation: str = "swish"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        nn.check_activation(self.activation)
        if self.embed_dim < 2 or self.embed_dim % 2 or min(self.hidden, default=1) < 1:
            raise OptionError(
                f"embed_dim must be even and at least 2, hidden sizes positive; got "
                f"embed_dim={self.embed_dim}, hidden={self.hidden}."
            )


class DiffusionState(NamedTuple):
    """``params``: the parameters being trained (AIS: the adapted ``log_eps``); ``fixed``: the
    rest; ``opt_state``: the optimizer's state (``None`` for AIS); ``step``: steps taken."""

    params: dict
    fixed: dict
    opt_state: Any
    step: Any


class DiffusionInfo(NamedTuple):
    """Per step: the loss (AIS: the variance of the batch's log-weights), the batch's estimate
    of ``log Z``, the mean step size and the mean acceptance rate (1 for Langevin moves)."""

    loss: Any
    log_z: Any
    step_size: Any
    accept_prob: Any


def _trained_names(options, variant) -> tuple[str, ...]:
    if not variant.trains:
        return ("log_eps",)
    flags = {
        "q0_loc": options.learn_q0,
        "q0_log_scale": options.learn_q0,
        "beta_logits": options.learn_betas,
        "log_eps": options.learn_eps,
        "net": variant.has_net,
    }
    return tuple(name for name, on in flags.items() if on)


def _batch_log_z(backend, w):
    return backend.logsumexp(w) - backend.xp.log(backend.xp.asarray(w.shape[0], dtype=w.dtype))


def make_algorithm(variant: Variant):
    """``build(problem, options) -> Algorithm`` of ``variant``: the ``Diffusion`` and the
    optimizer are built once per problem and closed over; the parameters, the optimizer's
    state and the warm start are in the state."""

    def build(problem, options) -> Algorithm:
        backend, xp = problem.backend, problem.backend.xp
        diffusion = Diffusion(problem, options, variant)
        optimizer = backend.optimizer(options.optimizer, options.lr) if variant.trains else None

        def init(key) -> DiffusionState:
            theta = diffusion.initial_theta(key)
            names = _trained_names(options, variant)
            params = {k: v for k, v in theta.items() if k in names}
            fixed = {k: v for k, v in theta.items() if k not in names}
            opt_state = optimizer.init(params) if variant.trains else None
            return DiffusionState(params, fixed, opt_state, xp.asarray(0))

        def train_step(state, key):
            loss = diffusion.loss(options.loss, state.params, state.fixed, key, options.batch_size)
            (value, w), grads = backend.value_and_grad(loss, has_aux=True)(state.params)
            ok = xp.isfinite(value)
            grads = backend.tree_map(
                lambda g: xp.where(ok & xp.isfinite(g), g, xp.zeros_like(g)), grads
            )
            params, opt_state = optimizer.update(grads, state.opt_state, state.params)
            eps = diffusion.step_sizes({**state.fixed, **params})
            info = DiffusionInfo(value, _batch_log_z(backend, w), xp.mean(eps), xp.ones_like(value))
            return DiffusionState(params, state.fixed, opt_state, state.step + 1), info

        def adapt_step(state, key):
            theta = {**state.fixed, **state.params}
            path = diffusion.simulate(theta, key, options.batch_size)
            w = diffusion.log_weights(theta, path)
            accept = xp.mean(path.accept)
            rate = xp.asarray(state.step + 1, dtype=accept.dtype) ** -ADAPT_POWER
            log_eps = state.params["log_eps"] + rate * (accept - options.target_accept)
            info = DiffusionInfo(
                xp.mean((w - xp.mean(w)) ** 2),
                _batch_log_z(backend, w),
                xp.mean(diffusion.step_sizes(theta)),
                accept,
            )
            return DiffusionState({"log_eps": log_eps}, state.fixed, None, state.step + 1), info

        def sample(state, key, num_samples) -> Draws:
            z, log_weights = diffusion.sample({**state.fixed, **state.params}, key, num_samples)
            return Draws(z, log_weights)

        return Algorithm(
            init=init,
            step=train_step if variant.trains else adapt_step,
            capabilities=CAPABILITIES,
            sample=sample,
            warm_start=lambda state: state.fixed.get("warm"),  # the path's ``WarmStart``
        )

    return build
