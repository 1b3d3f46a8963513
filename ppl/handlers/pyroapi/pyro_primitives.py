"""pyro-api's ``pyro`` module for the alias ``ppl-pyro``: ``ppl``'s primitives run on Pyro."""

from __future__ import annotations

from ... import primitives
from ...backends import bind
from ...backends.pyro.pyroapi_store import clear_param_store, get_param_store

__all__ = [
    "sample",
    "param",
    "plate",
    "deterministic",
    "factor",
    "get_param_store",
    "clear_param_store",
]


def sample(name, fn, *args, obs=None, obs_mask=None, infer=None, sample_shape=()):
    """``ppl.sample`` (``sample_shape`` draws i.i.d. copies, as in Pyro)."""
    if sample_shape:
        fn = fn.expand(tuple(sample_shape) + tuple(fn.batch_shape))
    return primitives.sample(name, fn, obs=obs, obs_mask=obs_mask, infer=infer)


sample = bind(sample, "pyro")
param = bind(primitives.param, "pyro")
plate = bind(primitives.plate, "pyro")
deterministic = bind(primitives.deterministic, "pyro")
factor = bind(primitives.factor, "pyro")
