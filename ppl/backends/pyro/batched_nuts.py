"""NUTS on torch for many chains at once: every chain's tree is built in lockstep, as tensors with
a leading chain axis, over the problem's potential mapped with ``torch.func.vmap``.

Pyro's own kernel (``mcmc.py``) walks one chain's tree in Python; several chains on one core then
cost several times one. Here one leapfrog step of all chains is one vmapped call, so C chains cost
about as much as the longest of their trees. It is the iterative NUTS of NumPyro and BlackJAX:
the trajectory doubles up to ``max_tree_depth`` times in a random direction; each new subtree is
built leaf by leaf with multinomial sampling inside it, and the U-turn is checked against the
momenta kept at the checkpoints of the doubling (``_checkpoints``); the subtree's proposal replaces
the tree's with probability ``min(1, w_new / w_old)`` unless it turned or diverged (energy error
above 1000). A chain that has stopped is masked (``torch.where``) while the others go on. Each
chain draws its random numbers from its own key, so a chain does not depend on the others'.

The state (``NUTSState``) holds everything between steps as tensors, the adaptation included
(``batched_adapt``), so a checkpointed state continues the uninterrupted run.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import torch

from . import keys
from .batched_adapt import (
    averaging_init,
    averaging_update,
    find_step_size,
    kinetic,
    leapfrog,
    mass_from_covariance,
    momentum,
    schedule,
    velocity,
    welford_update,
)
from .compiled import record_mapped_value_and_grad
from .mcmc import HMCInfo

__all__ = ["NUTSState", "batched_nuts_kernel"]

#: an energy error above this marks the trajectory divergent (NumPyro's and Stan's threshold)
MAX_DELTA_ENERGY = 1000.0
#: relative tolerance of the check that the vmapped potential equals the potential row by row
_VMAP_CHECK_RTOL = 1e-4


class NUTSState(NamedTuple):
    """One chain's state (stacked over chains by the driver: a leading chain axis on each).

    position, potential_energy, grad: the point and the potential and its gradient there.
    step_size: the current step size. inverse_mass / mass_sqrt: the diagonal (D,) or dense
    (D, D) inverse mass matrix and the mass matrix's square root (its Cholesky factor).
    averaging: dual averaging's state (``batched_adapt.averaging_init``). mean, m2, count: the
    window's Welford sums. iteration: steps taken."""

    position: Any
    potential_energy: Any
    grad: Any
    step_size: Any
    inverse_mass: Any
    mass_sqrt: Any
    averaging: Any
    mean: Any
    m2: Any
    count: Any
    iteration: Any


def _pick(mask, new, old):
    """``new`` where ``mask`` (C,) holds, else ``old``, for tensors with a leading chain axis."""
    return torch.where(mask.reshape((-1,) + (1,) * (new.dim() - 1)), new, old)


def _is_turning(inverse_mass, r_left, r_right, r_sum):
    """Stan's criterion, as NumPyro writes it (half of each end's momentum taken off the sum)."""
    r_sum = r_sum - 0.5 * (r_left + r_right)
    left = (velocity(inverse_mass, r_left) * r_sum).sum(-1) <= 0
    right = (velocity(inverse_mass, r_right) * r_sum).sum(-1) <= 0
    return left | right


def _checkpoints(leaf: int) -> tuple[int, int]:
    """``(lowest, highest)`` checkpoint against which leaf ``leaf`` of a subtree checks the
    U-turns of the subtrees it closes (NumPyro's ``_leaf_idx_to_ckpt_idxs``)."""
    highest = bin(leaf >> 1).count("1")
    closed = bin((~leaf & (leaf + 1)) - 1).count("1")
    return highest - closed + 1, highest


class _Tree:
    """The tree of every chain: its two ends, proposal, log weight and momentum sum."""

    def __init__(self, z, r, potential, grad):
        self.left = self.right = (z, r, grad)
        self.proposal = (z, potential, grad)
        self.weight = torch.zeros_like(potential)
        self.r_sum = r


def _subtree(value_and_grad, tree, inverse_mass, energy0, step_size, right, active, depth,
             uniforms, max_depth):  # fmt: skip
    """The ``2**depth`` leaves past the tree's end in each chain's direction ``right`` (C,),
    for the chains in ``active``; each stops at its own U-turn or divergence."""
    z, r, grad = (_pick(right, a, b) for a, b in zip(tree.right, tree.left))
    eps = torch.where(right, step_size, -step_size)
    chains, dim = z.shape
    r_ckpts = z.new_zeros((max_depth, chains, dim))
    r_sum_ckpts = z.new_zeros((max_depth, chains, dim))
    going = active.clone()
    turning = torch.zeros_like(active)
    diverging = torch.zeros_like(active)
    for leaf in range(2**depth):
        if leaf and not bool(going.any()):
            break
        z_new, r_new, pe_new, grad_new = leapfrog(value_and_grad, inverse_mass, z, r, grad, eps)
        delta = pe_new + kinetic(inverse_mass, r_new) - energy0
        delta = torch.where(torch.isnan(delta), math.inf, delta)
        weight_new = -delta
        accept = torch.exp(-delta).clamp(max=1.0)
        if leaf == 0:
            proposal = (z_new, pe_new, grad_new)
            weight, r_sum = weight_new, r_new
            accept_sum = torch.where(going, accept, 0.0)
            num = going.to(torch.int64)
        else:
            total = torch.logaddexp(weight, weight_new)
            take = going & (uniforms[:, leaf] < torch.exp(weight_new - total))
            proposal = tuple(_pick(take, a, b) for a, b in zip((z_new, pe_new, grad_new), proposal))
            weight = torch.where(going, total, weight)
            r_sum = _pick(going, r_sum + r_new, r_sum)
            accept_sum = accept_sum + torch.where(going, accept, 0.0)
            num = num + going.to(torch.int64)
        diverging = diverging | (going & (delta > MAX_DELTA_ENERGY))
        z, r, grad = (_pick(going, a, b) for a, b in zip((z_new, r_new, grad_new), (z, r, grad)))
        lowest, highest = _checkpoints(leaf)
        if leaf % 2 == 0:
            r_ckpts[highest], r_sum_ckpts[highest] = r_new, r_sum
        else:
            for i in range(highest, lowest - 1, -1):
                inner = r_sum - r_sum_ckpts[i] + r_ckpts[i]
                turning = turning | (going & _is_turning(inverse_mass, r_ckpts[i], r_new, inner))
        going = going & ~turning & ~diverging
    return (z, r, grad), proposal, weight, r_sum, turning, diverging, accept_sum, num


def nuts_draw(value_and_grad, z, potential, grad, step_size, inverse_mass, mass_sqrt, noise,
              uniforms, max_depth):  # fmt: skip
    """One NUTS transition of every chain: ``(z, potential, grad)`` of the proposals, the mean
    acceptance probability of each tree's leaves, whether it diverged, and its leaf count.
    ``uniforms`` (C, 2 max_depth + 2**max_depth): directions, merges, then the leaves."""
    r = momentum(mass_sqrt, noise)
    energy0 = potential + kinetic(inverse_mass, r)
    tree = _Tree(z, r, potential, grad)
    done = torch.zeros_like(potential, dtype=torch.bool)
    diverging = torch.zeros_like(done)
    accept_sum = torch.zeros_like(potential)
    num = torch.zeros_like(done, dtype=torch.int64)
    leaves = uniforms[:, 2 * max_depth :]
    for depth in range(max_depth):
        active = ~done
        if not bool(active.any()):
            break
        right = uniforms[:, depth] < 0.5
        end, proposal, weight, r_sum, turned, diverged, accepts, count = _subtree(
            value_and_grad, tree, inverse_mass, energy0, step_size, right, active, depth,
            leaves[:, 2**depth - 1 :], max_depth,
        )  # fmt: skip
        new_right = right & active
        new_left = ~right & active
        tree.right = tuple(_pick(new_right, a, b) for a, b in zip(end, tree.right))
        tree.left = tuple(_pick(new_left, a, b) for a, b in zip(end, tree.left))
        tree.r_sum = _pick(active, tree.r_sum + r_sum, tree.r_sum)
        move = torch.exp(weight - tree.weight).clamp(max=1.0)
        move = torch.where(turned | diverged, 0.0, move)
        take = active & (uniforms[:, max_depth + depth] < move)
        tree.proposal = tuple(_pick(take, a, b) for a, b in zip(proposal, tree.proposal))
        tree.weight = torch.where(active, torch.logaddexp(tree.weight, weight), tree.weight)
        turning = turned | _is_turning(inverse_mass, tree.left[1], tree.right[1], tree.r_sum)
        diverging = diverging | (active & diverged)
        accept_sum = accept_sum + torch.where(active, accepts, 0.0)
        num = num + torch.where(active, count, 0)
        done = done | (active & (turning | diverged))
    return tree.proposal, accept_sum / num.clamp_min(1), diverging, num


def _vmapped_value_and_grad(problem, z0):
    """``(value_and_grad, autograd)``, each ``f(z)`` over (C, D) points. ``autograd``: the
    potential mapped with ``torch.func.vmap`` and differentiated by autograd (for a few calls:
    nothing is recorded). ``value_and_grad``: the same recorded as one graph per chain count
    (``compiled.record_mapped_value_and_grad``), checked against ``autograd``, which it falls
    back to with one warning. Raises ``NotImplementedError`` naming the cause where the
    potential cannot be vmapped, or where the vmapped values differ from the potential's
    own."""
    mapped = torch.func.vmap(problem.potential)

    def autograd(z):
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            value = mapped(z)
            (grad,) = torch.autograd.grad(value.sum(), z)
        return value.detach(), grad

    probe = torch.stack([z0, z0 + 0.1])
    try:
        values, _ = autograd(probe)
    except Exception as err:  # noqa: BLE001 - any failure: the chains cannot be vectorised
        raise NotImplementedError(
            f"its potential cannot be vectorised with torch.func.vmap ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200]}); models without Python control flow on latent "
            "values vectorise"
        ) from None
    with torch.no_grad():
        rows = torch.stack([problem.potential(p) for p in probe]).to(values.dtype)
    if not torch.allclose(values, rows, rtol=_VMAP_CHECK_RTOL, atol=_VMAP_CHECK_RTOL):
        raise NotImplementedError(
            "its potential vmapped by torch.func.vmap differs from the potential row by row "
            f"({values.tolist()} against {rows.tolist()})"
        )
    recorded: dict = {}  # (shape, dtype, device) -> the recorded graph, or autograd

    def record(z):
        try:
            fused = record_mapped_value_and_grad(problem.potential, z)
            for point in (z, z + 0.25 * torch.randn(z.shape, generator=keys.generator(0))):
                value, grad = fused(point)
                want_value, want_grad = autograd(point)
                scale = 1.0 + float(want_grad.abs().max())
                if not (torch.allclose(value, want_value, rtol=_VMAP_CHECK_RTOL, atol=1e-5)
                        and torch.allclose(grad, want_grad, rtol=0.0,
                                           atol=_VMAP_CHECK_RTOL * scale)):  # fmt: skip
                    raise ValueError("the recorded gradient differs from autograd's")
            return fused
        except Exception as err:  # noqa: BLE001 - any failure: vmap and autograd instead
            warnings.warn(
                "The vectorised chains' value and gradient could not be recorded as one graph "
                f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); each leapfrog step "
                "takes vmap and autograd instead, several times slower.",
                stacklevel=2,
            )
            return autograd

    def value_and_grad(z):
        signature = (tuple(z.shape), z.dtype, z.device)
        if signature not in recorded:
            recorded[signature] = record(z.detach())
        return recorded[signature](z.detach())

    return value_and_grad, autograd


def batched_nuts_kernel(problem, options):
    """``(init, step)`` of NUTS over stacked chains: ``init(key)`` gives one chain's
    ``NUTSState``; ``step(states, keys)`` advances the stacked states (leading chain axis) with
    one key per chain. Raises ``NotImplementedError`` (the reason) where the problem's potential
    cannot be vectorised."""
    z_probe = problem.init(keys.key(0), strategy=options.init_strategy).detach()
    # one chain's start takes a few evaluations: unrecorded, so only the chains' shape records
    value_and_grad, one_by_one = _vmapped_value_and_grad(problem, z_probe)
    max_depth = options.max_tree_depth
    windows = schedule(options.num_warmup)
    warmup = options.num_warmup
    dtype = z_probe.dtype

    def normals(generators, dim, device):
        """(C, dim) standard normals, row c from chain c's generator (drawn on the CPU, so a
        seed gives the same chains on any device)."""
        return lambda: torch.stack(
            [torch.randn(dim, generator=g, dtype=dtype) for g in generators]
        ).to(device)

    def init(key):
        init_key, kernel_key = keys.split(key)
        z = problem.init(init_key, strategy=options.init_strategy).detach()
        dim = z.shape[-1]
        potential, grad = one_by_one(z[None])
        ones = torch.ones(dim, dtype=dtype, device=z.device)
        inverse = torch.diag(ones) if options.dense_mass else ones
        inverse = inverse[None]
        step_size = torch.full((1,), float(options.step_size), dtype=dtype, device=z.device)
        if options.adapt_step_size:
            draw = normals([keys.generator(kernel_key)], dim, z.device)
            step_size = find_step_size(one_by_one, z[None], potential, grad, step_size,
                                       inverse, inverse, draw)  # fmt: skip
        return NUTSState(
            position=z,
            potential_energy=potential[0],
            grad=grad[0],
            step_size=step_size[0],
            inverse_mass=inverse[0],
            mass_sqrt=inverse[0],
            averaging=averaging_init(step_size)[0],
            mean=torch.zeros_like(ones),
            m2=torch.zeros_like(inverse[0]),
            count=torch.zeros((), dtype=torch.int64, device=z.device),
            iteration=torch.zeros((), dtype=torch.int64, device=z.device),
        )

    def adapt(state, z, potential, grad, accept, t, draw):
        """The state's adaptation after warmup step ``t`` (the same for every chain)."""
        step_size, averaging = state.step_size, state.averaging
        inverse, mass_sqrt = state.inverse_mass, state.mass_sqrt
        mean, m2, count = state.mean, state.m2, state.count
        if options.adapt_step_size:
            averaging = averaging_update(averaging, accept, options.target_accept_prob)
            log_step = averaging[:, 1] if t == warmup - 1 else averaging[:, 0]
            finfo = torch.finfo(dtype)
            step_size = torch.exp(log_step).clamp(finfo.tiny, finfo.max).to(dtype)
        window = next(i for i, (_, last) in enumerate(windows) if t <= last)
        if 0 < window < len(windows) - 1:  # a slow window: estimate the mass matrix
            if options.adapt_mass_matrix:
                mean, m2, count = welford_update(mean, m2, count, z)
            if t == windows[window][1]:
                if options.adapt_mass_matrix:
                    inverse, mass_sqrt = mass_from_covariance(m2, count)
                    mean, m2, count = (torch.zeros_like(x) for x in (mean, m2, count))
                if options.adapt_step_size:
                    step_size = find_step_size(value_and_grad, z, potential, grad, step_size,
                                               inverse, mass_sqrt, draw)  # fmt: skip
                    averaging = averaging_init(step_size)
        return step_size, inverse, mass_sqrt, averaging, mean, m2, count

    def step(state, key):
        generators = [keys.generator(k) for k in key.reshape(-1)]
        dim = state.position.shape[-1]
        draw = normals(generators, dim, state.position.device)
        noise = draw()
        uniforms = torch.stack(
            [torch.rand(2 * max_depth + 2**max_depth, generator=g, dtype=dtype)
             for g in generators]
        ).to(state.position.device)  # fmt: skip
        (z, potential, grad), accept, diverging, _ = nuts_draw(
            value_and_grad, state.position, state.potential_energy, state.grad,
            state.step_size, state.inverse_mass, state.mass_sqrt, noise, uniforms, max_depth,
        )  # fmt: skip
        t = int(state.iteration.reshape(-1)[0])
        adapted = state[3:10]  # step_size to count, as they are after warmup
        if t < warmup:
            adapted = adapt(state, z, potential, grad, accept, t, draw)
        info = HMCInfo(accept, adapted[0], diverging, potential)
        return NUTSState(z, potential, grad, *adapted, state.iteration + 1), info

    return init, step
