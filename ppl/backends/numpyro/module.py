"""``ppl.module`` on NumPyro: a ``ppl.nn`` network's parameters as ``numpyro.param`` sites."""

from __future__ import annotations

import jax.numpy as jnp
import numpyro
import numpyro.primitives

from ...errors import ModelError
from ..modules import (
    check_leaf_shape,
    init_seed,
    is_network,
    leaf_paths,
    leaves_by_path,
    unflatten_paths,
)


def _traced_shape(site: str):
    """The shape of parameter ``site`` where an enclosing trace has recorded it, else ``None``."""
    for handler in numpyro.primitives._PYRO_STACK:
        recorded = getattr(handler, "trace", None)
        if isinstance(recorded, dict) and site in recorded:
            return tuple(jnp.shape(recorded[site]["value"]))
    return None


def module(name: str, network):
    """Register ``network``'s parameters under ``name``; return ``x -> network(x)``.

    Each leaf of the parameter tree is the parameter ``f"{name}.{path}"``, started at
    ``network.init`` with a key fixed by ``name`` (computed on each call and unused once the
    parameter has a value: inside ``jit`` it is compiled away).
    """
    if not is_network(network):
        raise ModelError(
            f"ppl.module({name!r}, ...) on the numpyro backend takes a ppl.nn network (an "
            "object with shapes, init and apply, such as ppl.nn.MLP), not a "
            f"{type(network).__name__}; a Flax or Equinox module goes through "
            "numpyro.contrib.module (flax_module, eqx_module) in a NumPyro-only model."
        )
    from .. import get_backend

    arrays = get_backend("numpyro").arrays
    initial = leaves_by_path(network.init(arrays, arrays.key(init_seed(name))))
    values = {}
    for path, shape in leaf_paths(network.shapes):
        seen = _traced_shape(f"{name}.{path}")
        if seen is not None:  # registered before in this run (NumPyro keeps no param store)
            check_leaf_shape(name, path, seen, shape)
        value = numpyro.param(f"{name}.{path}", initial[path])
        check_leaf_shape(name, path, value.shape, shape)
        values[path] = value
    params = unflatten_paths(network.shapes, values)
    return lambda x: network.apply(arrays, params, x)
