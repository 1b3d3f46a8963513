"""Pyro's own HMC/NUTS kernels (``pyro.infer.mcmc``) over a ``Problem``'s potential.

Pyro's kernels keep their adaptation state in the kernel object, so each chain's state carries
its own kernel; every step runs under a global seed derived from its key (reproducible, and the
caller's random state is left alone).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from pyro.infer.mcmc import HMC, NUTS

from . import keys


class KernelState(NamedTuple):
    position: Any
    kernel: Any


class HMCInfo(NamedTuple):
    accept_prob: Any
    step_size: Any
    diverging: Any
    potential_energy: Any


def hmc_kernel(problem, algo: str, options):
    def potential(params):
        return problem.potential(params["z"])

    def init(key):
        init_key, kernel_key = keys.split(key)
        z0 = problem.init(init_key, strategy=options.init_strategy).detach()
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
            kernel = HMC(num_steps=options.num_steps, **common)
        kernel.initial_params = {"z": z0}
        with keys.global_seed(kernel_key):
            kernel.setup(warmup_steps=options.num_warmup)
        return KernelState(z0, kernel)

    def step(state, key):
        kernel = state.kernel
        mean_before, divergences_before = kernel._mean_accept_prob, len(kernel._divergences)
        with keys.global_seed(key):
            params = kernel.sample({"z": state.position})
        n = kernel._t - kernel._warmup_steps if kernel._t > kernel._warmup_steps else kernel._t
        accept = mean_before + n * (kernel._mean_accept_prob - mean_before)
        info = HMCInfo(
            torch.tensor(accept),
            torch.tensor(float(kernel.step_size)),
            torch.tensor(len(kernel._divergences) > divergences_before),
            kernel._potential_energy_last.detach(),
        )
        return KernelState(params["z"], kernel), info

    return init, step
