"""Pyro's own HMC/NUTS kernels (``pyro.infer.mcmc``) over a ``Problem``'s potential.

Pyro's kernels keep their adaptation in the kernel object. Here the chain's state holds all of
it as tensors (``KernelState``): the cached potential and gradient at the position, the step and
acceptance counters, the step size, the dual-averaging state, and per mass-matrix block the
inverse mass matrix, its square roots and the Welford estimator. One kernel object per run is a
workspace: every step writes the state into it, runs Pyro's ``sample`` under a global seed
derived from the step's key (the caller's random state is left alone) and reads the new state
back out. So a state from a checkpoint continues exactly as the uninterrupted chain.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from pyro.infer.mcmc import HMC, NUTS

from . import keys

__all__ = ["KernelState", "HMCInfo", "hmc_kernel"]


class KernelState(NamedTuple):
    """position: the flat point; potential_energy and grad: the potential and its gradient
    there; counters: float64 ``SCALARS`` values; blocks: per mass-matrix block, ``(inverse
    mass matrix, its square root, the inverse square root)`` and, when the mass matrix adapts,
    the Welford ``(mean, m2, n)``."""

    position: Any
    potential_energy: Any
    grad: Any
    counters: Any
    blocks: Any


class HMCInfo(NamedTuple):
    accept_prob: Any
    step_size: Any
    diverging: Any
    potential_energy: Any


#: (owner, attribute, type) of the kernel's scalar adaptation state, in ``counters`` order;
#: owner ``"kernel"``, ``"adapter"`` (the warmup adapter) or ``"averaging"`` (its dual averaging)
SCALARS = (
    ("kernel", "_t", int),
    ("kernel", "_accept_cnt", int),
    ("kernel", "_mean_accept_prob", float),
    ("adapter", "step_size", float),
    ("adapter", "_current_window", int),
)
AVERAGING_SCALARS = (
    ("averaging", "prox_center", float),
    ("averaging", "_t", int),
    ("averaging", "_x_avg", float),
    ("averaging", "_g_avg", float),
    ("averaging", "_x_t", float),
)


def _owners(kernel) -> dict:
    adapter = kernel._adapter
    owners = {"kernel": kernel, "adapter": adapter}
    if adapter.adapt_step_size:
        owners["averaging"] = adapter._step_size_adapt_scheme
    return owners


def _scalars(kernel) -> tuple:
    return SCALARS + (AVERAGING_SCALARS if kernel._adapter.adapt_step_size else ())


def _read(kernel, position) -> KernelState:
    """The kernel's adaptation state, as tensors."""
    owners = _owners(kernel)
    counters = torch.tensor(
        [float(getattr(owners[o], name, 0.0)) for o, name, _ in _scalars(kernel)],
        dtype=torch.float64,
    )
    matrices = kernel._adapter.mass_matrix_adapter
    blocks = []
    for sites, inverse in matrices._inverse_mass_matrix.items():
        block = (
            inverse,
            matrices._mass_matrix_sqrt[sites],
            matrices._mass_matrix_sqrt_inverse[sites],
        )
        welford = matrices._adapt_scheme.get(sites)
        if welford is not None:  # 0.0 after a reset: zeros of the block's shape
            m2_shape = inverse.shape
            mean = torch.zeros(inverse.shape[:1], dtype=inverse.dtype) + welford._mean
            m2 = torch.zeros(m2_shape, dtype=inverse.dtype) + welford._m2
            block += (mean, m2, torch.tensor(welford.n_samples, dtype=torch.int64))
        blocks.append(block)
    return KernelState(
        position,
        kernel._potential_energy_last.detach(),
        kernel._z_grads_last["z"].detach(),
        counters,
        tuple(blocks),
    )


def _write(kernel, state: KernelState) -> None:
    """Put ``state`` into the kernel, replacing all that it carries between steps."""
    owners = _owners(kernel)
    for (owner, name, kind), value in zip(_scalars(kernel), state.counters.tolist(), strict=True):
        setattr(owners[owner], name, kind(value))
    matrices = kernel._adapter.mass_matrix_adapter
    for sites, block in zip(list(matrices._inverse_mass_matrix), state.blocks, strict=True):
        matrices._inverse_mass_matrix[sites] = block[0]
        matrices._mass_matrix_sqrt[sites] = block[1]
        matrices._mass_matrix_sqrt_inverse[sites] = block[2]
        if sites in matrices._adapt_scheme:
            welford = matrices._adapt_scheme[sites]
            welford._mean, welford._m2, welford.n_samples = block[3], block[4], int(block[5])
    kernel._z_last = {"z": state.position}
    kernel._potential_energy_last = state.potential_energy
    kernel._z_grads_last = {"z": state.grad}
    kernel._divergences = []


class _BoundedHMC(HMC):
    """Pyro's ``HMC`` whose trajectory of length ``trajectory_length`` takes at most
    ``max_num_steps`` leapfrog steps (unbounded otherwise: eager torch takes ~0.5 ms a step, so
    a step size adapted down to 1e-5 took minutes a draw)."""

    def __init__(self, *args, max_num_steps: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_num_steps = max_num_steps

    @property
    def num_steps(self):
        return min(self.max_num_steps, super().num_steps)


def hmc_kernel(problem, algo: str, options, value_and_grad=None):
    """``(init, step)`` of Pyro's ``algo`` (``"NUTS"`` or ``"HMC"``) over ``problem``; ``init``
    checks its start with ``value_and_grad`` (``Problem.init``)."""
    workspace: dict[str, Any] = {}

    def potential(params):
        return problem.potential(params["z"])

    def set_up(key, z0):
        common = dict(
            potential_fn=potential,
            step_size=options.step_size,
            adapt_step_size=options.adapt_step_size,
            adapt_mass_matrix=options.adapt_mass_matrix,
            full_mass=options.dense_mass,
            target_accept_prob=options.target_accept_prob,
        )
        if algo == "NUTS":
            kernel = NUTS(max_tree_depth=options.max_tree_depth, **common)
        else:
            if options.num_steps is None:  # a number the user gives is kept as given
                kernel = _BoundedHMC(max_num_steps=options.max_num_steps, **common)
            else:
                kernel = HMC(num_steps=options.num_steps, **common)
        kernel.initial_params = {"z": z0}
        with keys.global_seed(key):
            kernel.setup(warmup_steps=options.num_warmup)
        workspace["kernel"] = kernel
        return kernel

    def init(key):
        init_key, kernel_key = keys.split(key)
        z0 = problem.init(init_key, options.init_strategy, value_and_grad=value_and_grad)
        z0 = z0.detach()
        return _read(set_up(kernel_key, z0), z0)

    def step(state, key):
        kernel = workspace.get("kernel") or set_up(keys.key(0), state.position)
        _write(kernel, state)
        mean_before = kernel._mean_accept_prob
        with keys.global_seed(key):
            z = kernel.sample({"z": state.position})["z"]
        n = kernel._t - kernel._warmup_steps if kernel._t > kernel._warmup_steps else kernel._t
        accept = mean_before + n * (kernel._mean_accept_prob - mean_before)
        info = HMCInfo(
            torch.tensor(accept),
            torch.tensor(float(kernel.step_size)),
            torch.tensor(len(kernel._divergences) > 0),
            kernel._potential_energy_last.detach(),
        )
        return _read(kernel, z), info

    return init, step
