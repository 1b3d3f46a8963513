"""Structured SG-MCMC (Alexos, Boyd & Mandt, ICML 2022), and its dropout variant.

The latent sites are split into ``groups``. Each group's gradient is taken at a point where the
other groups are replaced by draws from a buffer of earlier chain states, so the chain targets a
posterior in which the groups are (controllably) independent: gradient information does not
flow between groups through the current state, which speeds mixing in deep or hierarchical
models. With ``dropout > 0`` each step draws ``num_masks`` random masks; in mask ``m`` each group
keeps its current value with probability ``1 - dropout`` and is replaced by a buffer draw
otherwise, and each group's gradient is the average over the masks that kept it (the gradient
at the current point where no mask did). Any of ``sgld``, ``psgld``, ``sghmc`` moves the chain
along that gradient (``base=``). With ``step_size="auto"`` and minibatches every gradient
carries the MAP point's control variate where the base samplers' rule takes it
(``ppl.inference.sgmcmc.base.controlled_gradient``; one extra minibatch gradient per step).

``groups``: a list of lists of site names (``[["w1", "b1"], ["w2", "b2"]]``) or ``"sites"``
(one group per site); sites named in no group form one more group.

>>> import ppl
>>> from ppl import dist
>>> def model():
...     ppl.sample("a", dist.Normal(0.0, 1.0))
...     ppl.sample("b", dist.Normal(1.0, 1.0))
>>> post = ppl.infer(model, "structured_sgmcmc", backend="numpyro", groups=[["a"], ["b"]],
...                  step_size=0.1, num_warmup=10, num_samples=50, progress=False)
>>> sorted(post.samples), post.samples["b"].shape
(['a', 'b'], (1, 50))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ...core import Algorithm
from ...errors import OptionError
from .base import (
    CAPABILITIES,
    UPDATES,
    ChainStart,
    FrictionOptions,
    PreconditionOptions,
    SGInfo,
    SGOptions,
    _check_choice,
    control_variate,
    frame_of,
    frame_step_size,
    minibatch_gradient,
    move,
    runaway_check,
    step_counter,
    step_keys,
    step_size_at,
)

__all__ = ["CAPABILITIES", "Options", "StructuredState", "build", "group_masks"]

BASES = ("sgld", "psgld", "sghmc")


@dataclass(frozen=True)
class Options(SGOptions, PreconditionOptions, FrictionOptions):
    """``SGOptions``, the base samplers' options, and:

    groups: ``"sites"`` or a list of lists of site names. base: the update rule, one of
    ``"sgld"``, ``"psgld"``, ``"sghmc"``. dropout: the probability that a group is replaced by
    a buffer draw in a mask (0: the structured sampler without dropout). num_masks: masks per
    step in the dropout variant (one gradient each). buffer_size: earlier states kept.
    """

    groups: Any = "sites"
    base: str = "sgld"
    dropout: float = 0.0
    num_masks: int = 1
    buffer_size: int = 100

    def __post_init__(self):
        super().__post_init__()
        _check_choice("base", self.base, BASES)
        if not 0 <= self.dropout < 1:
            raise OptionError(f"dropout must lie in [0, 1), got {self.dropout}.")
        for name in ("num_masks", "buffer_size"):
            if getattr(self, name) < 1:
                raise OptionError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if isinstance(self.groups, str):
            if self.groups != "sites":
                raise OptionError(
                    f"groups must be 'sites' or a list of lists of site names, got "
                    f"{self.groups!r}. Write groups=[[{self.groups!r}]] for one group."
                )
            return
        if (
            not isinstance(self.groups, (list, tuple))
            or not self.groups
            or not all(
                isinstance(g, (list, tuple)) and g and all(isinstance(s, str) for s in g)
                for g in self.groups
            )
        ):
            raise OptionError(
                "groups must be 'sites' or a non-empty list of non-empty lists of site names, "
                f"like [['w1', 'b1'], ['w2', 'b2']]; got {self.groups!r}."
            )
        seen: dict[str, int] = {}
        for i, group in enumerate(self.groups):
            for site in group:
                if site in seen:
                    raise OptionError(
                        f"Site {site!r} is in two groups (groups {seen[site]} and {i}); each "
                        "site may be in one group only. Remove it from one of them."
                    )
                seen[site] = i


def group_masks(layout, groups) -> np.ndarray:
    """``(num_groups, dim)`` 0/1 masks of the coordinates of each group; an ``OptionError``
    naming the fix for a site the model does not have."""
    names = list(layout.names)
    if groups == "sites":
        groups = [[name] for name in names]
    unknown = [s for g in groups for s in g if s not in names]
    if unknown:
        raise OptionError(
            f"groups names the site {unknown[0]!r}, which is not a latent site of the model. "
            f"Its latent sites are: {names}."
        )
    rest = [n for n in names if not any(n in g for g in groups)]
    groups = [list(g) for g in groups] + ([rest] if rest else [])
    offsets = np.cumsum([0, *layout.sizes])
    masks = np.zeros((len(groups), layout.dim))
    for k, group in enumerate(groups):
        for site in group:
            i = names.index(site)
            masks[k, offsets[i] : offsets[i + 1]] = 1.0
    return masks


class StructuredState(NamedTuple):
    """position, step, aux and frame as in ``SGState``; buffer: ``(buffer_size, dim)`` earlier
    states (a ring, row ``step % buffer_size`` written next); masks: the groups' 0/1 masks."""

    position: Any
    step: Any
    aux: Any
    buffer: Any
    masks: Any
    frame: Any = None


def build(problem, options) -> Algorithm:
    """The structured sampler on ``problem``: its groups' masks and its start are found here,
    once; the masks also travel in the state."""
    backend, xp = problem.backend, problem.backend.xp
    blocks = group_masks(problem.layout, options.groups)
    start = ChainStart(problem, options, options.base, blocks)
    update = UPDATES[options.base]
    estimate = _dropout_gradient if options.dropout > 0 else _structured_gradient

    def init(key):
        z, frame = start(key)
        buffer = xp.zeros((options.buffer_size, problem.dim), dtype=z.dtype) + z
        aux = update.init(z, backend, options, frame)
        masks = xp.astype(backend.asarray(blocks), z.dtype)
        return StructuredState(z, step_counter(backend), aux, buffer, masks, frame)

    def step(state, key):
        batch_key, noise_key, buffer_key = step_keys(backend, key)
        num = options.num_masks + 1 if options.dropout > 0 else state.masks.shape[0]
        keys = backend.split(buffer_key, num)
        value, grad = estimate(backend, problem, state, batch_key, keys, options)
        dtype = state.position.dtype
        eps = step_size_at(options, state.step, xp, dtype, frame_step_size(state.frame))
        z, aux = move(update, state.position, state.aux, grad, eps, noise_key, backend, options,
                      state.frame)  # fmt: skip
        row = xp.arange(options.buffer_size) == state.step % options.buffer_size
        buffer = xp.where(row[:, None], z[None, :], state.buffer)
        new = StructuredState(z, state.step + 1, aux, buffer, state.masks, state.frame)
        return new, SGInfo(eps, value)

    return Algorithm(
        init, step, CAPABILITIES, check_info=runaway_check(problem), warm_start=frame_of
    )


def _buffer_draw(backend, state, key, options):
    """One earlier state, uniform over the rows written so far (the initial point at step 0)."""
    xp = backend.xp
    filled = xp.clip(state.step, 1, options.buffer_size)
    u = backend.uniform(key, ())
    index = xp.astype(xp.floor(u * xp.astype(filled, u.dtype)), state.step.dtype)
    return state.buffer[index]


def _structured_gradient(backend, problem, state, batch_key, keys, options):
    """Each group's gradient with the other groups replaced by a buffer draw (all on the
    minibatch of ``batch_key``, with the frame's control variate where it has one)."""
    xp, z = backend.xp, state.position
    value_and_grad = minibatch_gradient(problem)
    grad, value = _control_term(value_and_grad, state, batch_key, xp), 0.0
    num_groups = state.masks.shape[0]
    for k in range(num_groups):
        mask = state.masks[k]
        point = mask * z + (1 - mask) * _buffer_draw(backend, state, keys[k], options)
        v, g = value_and_grad(point, batch_key)
        grad, value = grad + mask * g, value + v / num_groups
    return value, grad


def _dropout_gradient(backend, problem, state, batch_key, keys, options):
    """The dropout variant: each mask keeps each group with probability ``1 - dropout``."""
    xp, z = backend.xp, state.position
    value_and_grad = minibatch_gradient(problem)
    shape = (options.num_masks, state.masks.shape[0])
    keep = backend.bernoulli(keys[0], 1 - options.dropout, shape)
    keep = xp.astype(keep, z.dtype) @ state.masks  # (num_masks, dim) 0/1
    total, count = xp.zeros_like(z), xp.zeros_like(z)
    for m in range(options.num_masks):
        point = keep[m] * z + (1 - keep[m]) * _buffer_draw(backend, state, keys[m + 1], options)
        _, g = value_and_grad(point, batch_key)
        total, count = total + keep[m] * g, count + keep[m]
    value, current = value_and_grad(z, batch_key)
    grad = xp.where(count > 0, total / xp.clip(count, 1, None), current)
    return value, grad + _control_term(value_and_grad, state, batch_key, xp)


def _control_term(value_and_grad, state, batch_key, xp):
    """The control variate ``g(m) - g_B(m)`` on the minibatch of ``batch_key``, added once to
    the assembled gradient (each coordinate's gradient is one point's, so adding it there is
    adding it to each group's), or zeros without an anchor."""
    term = control_variate(value_and_grad, state.frame, batch_key)
    return xp.zeros_like(state.position) if term is None else term
