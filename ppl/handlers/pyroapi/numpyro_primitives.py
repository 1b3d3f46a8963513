"""pyro-api's ``pyro`` module for the alias ``ppl-numpyro``: ``ppl``'s primitives run on
NumPyro, plus the parameter store that Pyro code expects (filled by the alias's ``SVI``)."""

from __future__ import annotations

from ... import primitives
from ...backends import bind
from ...backends.numpyro.pyroapi_store import (
    clear_param_store,
    constrained_init,
    get_param_store,
)

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


def param(name, init_value=None, **kwargs):
    """``ppl.param``; without an initial value, the value learned by ``SVI``. As in Pyro, an
    initial value is mapped into the constraint's support (through the unconstrained space)."""
    init_value = constrained_init(kwargs.get("constraint"), init_value)
    value = primitives.param(name, init_value, **kwargs)
    if value is None and init_value is None:
        value = get_param_store().get(name)
    return value


sample = bind(sample, "numpyro")
param = bind(param, "numpyro")
plate = bind(primitives.plate, "numpyro")
deterministic = bind(primitives.deterministic, "numpyro")
factor = bind(primitives.factor, "numpyro")
