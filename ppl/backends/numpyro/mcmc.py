"""NumPyro's own HMC/NUTS kernel (``numpyro.infer.hmc.hmc``) over a ``Problem``'s potential."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
from numpyro.infer.hmc import hmc
from numpyro.infer.util import ParamInfo

#: NumPyro's (and Pyro's) default HMC trajectory length
TRAJECTORY_LENGTH = 2 * math.pi


class KernelState(NamedTuple):
    position: Any
    inner: Any


class HMCInfo(NamedTuple):
    accept_prob: Any
    step_size: Any
    diverging: Any
    num_steps: Any
    potential_energy: Any


def hmc_kernel(problem, algo: str, options, value_and_grad=None):
    """``(init, step)`` of NumPyro's kernel on ``problem``. NumPyro's ``sample_kernel`` reads
    what its ``init_kernel`` configured (the adaptation schedule, the integrator), so the
    kernel is configured at once by an abstract ``init_kernel`` (``jax.eval_shape``: traced,
    never run): ``step`` then works on a problem whose ``init`` ran elsewhere (the driver's
    compiled chunk binds a problem of its own to the data it is given). ``init`` checks its
    start's potential and gradient with ``value_and_grad`` (``Problem.init``)."""
    init_kernel, sample_kernel = hmc(potential_fn=problem.potential, algo=algo)
    extra = {"max_tree_depth": options.max_tree_depth} if algo == "NUTS" else {}
    if algo == "HMC":
        extra = {"num_steps": options.num_steps} if options.num_steps else {}
    bounded = options.max_num_steps if algo == "HMC" and not options.num_steps else 0

    def start(init_params, kernel_key):
        return init_kernel(
            init_params,
            options.num_warmup,
            step_size=options.step_size,
            adapt_step_size=options.adapt_step_size,
            adapt_mass_matrix=options.adapt_mass_matrix,
            dense_mass=options.dense_mass,
            target_accept_prob=options.target_accept_prob,
            rng_key=kernel_key,
            **extra,
        )

    z_shape = jax.ShapeDtypeStruct((problem.dim,), jax.numpy.result_type(float))
    jax.eval_shape(start, z_shape, jax.random.PRNGKey(0))

    def init(key):
        init_key, kernel_key = jax.random.split(key)
        z0 = problem.init(init_key, options.init_strategy, value_and_grad=value_and_grad)
        if value_and_grad is not None:  # the kernel's first gradient from the compiled check
            z0 = ParamInfo(z0, *value_and_grad(z0))
        state = start(z0, kernel_key)
        return KernelState(state.z, state)

    def step(state, key):
        inner = state.inner
        if bounded:  # 2π long, in at most max_num_steps steps of the adapted step size
            length = jax.numpy.minimum(TRAJECTORY_LENGTH, bounded * inner.adapt_state.step_size)
            inner = inner._replace(trajectory_length=length)
        new = sample_kernel(inner)
        info = HMCInfo(
            new.accept_prob,
            new.adapt_state.step_size,
            new.diverging,
            new.num_steps,
            new.potential_energy,
        )
        return KernelState(new.z, new), info

    return init, step
