"""``ppl.module`` on NumPyro: a network's parameters as ``numpyro.param`` sites.

Three kinds of network are accepted, each leaf of its parameter tree becoming the parameter
``f"{name}.{path}"`` (so the algorithm's state, ``Posterior.params`` and checkpoints hold them):

- a ``ppl.nn`` network (``shapes``, ``init``, ``apply``), started at ``network.init`` with a
  key fixed by ``name``;
- a ``flax.linen.Module``, started at ``network.init`` on ``jnp.ones(input_shape)`` with a key
  fixed by ``name`` (as ``numpyro.contrib.module.flax_module``: ``input_shape`` is required,
  ``apply_rng`` names the extra random streams, such as ``"dropout"``, that each call draws
  from the enclosing seed); its ``"params"`` collection is registered, and a module with other
  collections (BatchNorm's ``batch_stats``) is refused, as their updates would not be state;
- an ``equinox.Module``, already initialized: split with ``eqx.partition`` into its inexact
  arrays (the parameters, started at their current values) and the rest (static), and
  recombined with the fitted arrays (as ``numpyro.contrib.module.eqx_module``); the module
  itself is returned, to be called (or ``jax.vmap``-ed) as usual.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro
import numpyro.primitives

from ...errors import ModelError
from ..modules import (
    check_leaf_shape,
    init_seed,
    is_network,
    leaves_by_path,
    native_library,
    unflatten_paths,
    wrong_backend,
)


def _traced_shape(site: str):
    """The shape of parameter ``site`` where an enclosing trace has recorded it, else ``None``."""
    for handler in numpyro.primitives._PYRO_STACK:
        recorded = getattr(handler, "trace", None)
        if isinstance(recorded, dict) and site in recorded:
            return tuple(jnp.shape(recorded[site]["value"]))
    return None


def _register(name: str, initial: dict) -> dict:
    """``{path: numpyro.param(f"{name}.{path}", initial[path])}``, each leaf's shape checked
    against the one registered before in this run (NumPyro keeps no param store) and against
    the value the handlers give back."""
    values = {}
    for path in sorted(initial):
        shape = tuple(jnp.shape(initial[path]))
        seen = _traced_shape(f"{name}.{path}")
        if seen is not None:
            check_leaf_shape(name, path, seen, shape)
        value = numpyro.param(f"{name}.{path}", initial[path])
        check_leaf_shape(name, path, jnp.shape(value), shape)
        values[path] = value
    return values


def _key_path(path) -> str:
    """A JAX key path (``.layers[0].weight``, ``['params']['Dense_0']``) as ``layers.0.weight``."""
    parts = []
    for entry in path:
        for field in ("name", "key", "idx"):
            if hasattr(entry, field):
                parts.append(str(getattr(entry, field)))
                break
    return ".".join(parts)


def _flax(name, network, input_shape, apply_rng):
    if input_shape is None:
        raise ModelError(
            f"ppl.module({name!r}, {type(network).__name__}(...)) takes a flax.linen Module, "
            "whose parameters' shapes depend on its input: pass input_shape=, the shape of one "
            f"input array (for example ppl.module({name!r}, net, input_shape=(1, 64)))."
        )
    kinds = list(apply_rng or ())
    keys = jax.random.split(jax.random.PRNGKey(init_seed(name)), len(kinds) + 1)
    rngs = {"params": keys[0], **dict(zip(kinds, keys[1:]))}
    variables = network.init(rngs, jnp.ones(tuple(input_shape)))
    others = sorted(set(variables) - {"params"})
    if others:
        raise ModelError(
            f"ppl.module({name!r}, ...): the flax module {type(network).__name__} has the "
            f"mutable collections {others} besides 'params' (BatchNorm's batch_stats), which "
            "ppl does not carry in the algorithm's state; use a module without them (LayerNorm "
            "for BatchNorm)."
        )
    leaves, tree = jax.tree_util.tree_flatten_with_path(variables.get("params", {}))
    paths = [_key_path(p) for p, _ in leaves]
    values = _register(name, dict(zip(paths, (leaf for _, leaf in leaves))))
    params = jax.tree_util.tree_unflatten(tree, [values[p] for p in paths])

    def apply(*args, **kwargs):
        if kinds and "rngs" not in kwargs:
            kwargs["rngs"] = {kind: numpyro.prng_key() for kind in kinds}
        return network.apply({"params": params}, *args, **kwargs)

    return apply


def _equinox(name, network):
    import equinox as eqx

    arrays, static = eqx.partition(network, eqx.is_inexact_array)
    leaves, tree = jax.tree_util.tree_flatten_with_path(arrays)
    paths = [_key_path(p) for p, _ in leaves]
    values = _register(name, dict(zip(paths, (leaf for _, leaf in leaves))))
    fitted = jax.tree_util.tree_unflatten(tree, [values[p] for p in paths])
    return eqx.combine(fitted, static)


def _native(name, network, input_shape, apply_rng):
    """A Flax or Equinox network's parameters registered; ``None`` for any other object."""
    library = native_library(network)
    if library == "equinox":
        if input_shape is not None or apply_rng is not None:
            raise ModelError(
                f"ppl.module({name!r}, ...): input_shape and apply_rng are for flax.linen "
                "modules; an equinox module is initialized already, so pass it alone."
            )
        return _equinox(name, network)
    if library == "flax":
        import flax.linen

        if isinstance(network, flax.linen.Module):
            return _flax(name, network, input_shape, apply_rng)
        raise ModelError(
            f"ppl.module({name!r}, ...) takes a flax.linen Module, not the flax "
            f"{type(network).__name__} (flax.nnx modules are not supported): write it with "
            "flax.linen, equinox or ppl.nn."
        )
    return None


def module(name: str, network, *, input_shape=None, apply_rng=None):
    """Register ``network``'s parameters under ``name``; return the network as a function of
    its input (an equinox module: the module itself, with the registered parameters).

    Parameters
    ----------
    name : str
        The module's name: its parameters are ``f"{name}.{path}"``.
    network : ppl.nn network, flax.linen.Module or equinox.Module
        The network (the module docstring says how each is initialized).
    input_shape : tuple of int, optional
        A flax.linen module only (required for it): the shape of one input, on which
        ``network.init`` runs.
    apply_rng : list of str, optional
        A flax.linen module only: the random streams (``["dropout"]``) that ``init`` and each
        call need; each call draws them from the enclosing seed unless given ``rngs=``.
    """
    foreign = wrong_backend(name, network, "numpyro")
    if foreign is not None:
        raise foreign
    native = _native(name, network, input_shape, apply_rng)
    if native is not None:
        return native
    if not is_network(network):
        raise ModelError(
            f"ppl.module({name!r}, ...) on the numpyro backend takes a ppl.nn network (an "
            "object with shapes, init and apply, such as ppl.nn.MLP), a flax.linen Module or "
            f"an equinox Module, not a {type(network).__name__}."
        )
    if input_shape is not None or apply_rng is not None:
        raise ModelError(
            f"ppl.module({name!r}, ...): input_shape and apply_rng are for flax.linen modules; "
            "a ppl.nn network declares its shapes, so pass it alone."
        )
    from .. import get_backend

    arrays = get_backend("numpyro").arrays
    initial = leaves_by_path(network.init(arrays, arrays.key(init_seed(name))))
    params = unflatten_paths(network.shapes, _register(name, initial))
    return lambda x: network.apply(arrays, params, x)
