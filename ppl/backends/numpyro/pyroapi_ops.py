"""pyro-api's ``ops`` for the alias ``ppl-numpyro``: ``jax.numpy`` with torch's constructors
(``tensor``, ``randn``, ``ones(*sizes)``, ``zeros(*sizes)``)."""

from __future__ import annotations

import builtins

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
from jax.numpy import *  # noqa: F403

tensor = jnp.asarray


def _sizes(sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (builtins.tuple, builtins.list)):
        sizes = builtins.tuple(sizes[0])
    if not builtins.all(isinstance(s, (builtins.int, np.integer)) for s in sizes):
        raise ValueError(f"sizes must be integers, not {sizes!r}")
    return builtins.tuple(builtins.int(s) for s in sizes)


def ones(*sizes, **kwargs):
    return jnp.ones(_sizes(sizes), **kwargs)


def zeros(*sizes, **kwargs):
    return jnp.zeros(_sizes(sizes), **kwargs)


def randn(*sizes):
    """Standard normal draws from the enclosing ``seed`` handler's key (NumPy's generator
    seeded with 0 outside one)."""
    key = numpyro.prng_key()
    if key is None:
        return jnp.asarray(np.random.default_rng(0).standard_normal(_sizes(sizes)))
    return jax.random.normal(key, _sizes(sizes))
