"""pyro-api's ``pyro`` module for the alias ``ppl-numpyro``: ``ppl``'s primitives run on
NumPyro, plus the parameter store that Pyro code expects (filled by ``pyroapi_infer.SVI``)."""

from __future__ import annotations

import jax.numpy as jnp
from numpyro.distributions.transforms import biject_to

from ... import primitives
from .. import bind

__all__ = [
    "sample",
    "param",
    "plate",
    "deterministic",
    "factor",
    "get_param_store",
    "clear_param_store",
]

_PARAM_STORE: dict = {}


def get_param_store() -> dict:
    """The learned parameters of the last ``SVI.step`` (name -> constrained value)."""
    return _PARAM_STORE


def clear_param_store() -> None:
    _PARAM_STORE.clear()


def sample(name, fn, *args, obs=None, obs_mask=None, infer=None, sample_shape=()):
    """``ppl.sample`` (``sample_shape`` draws i.i.d. copies, as in Pyro)."""
    if sample_shape:
        fn = fn.expand(tuple(sample_shape) + tuple(fn.batch_shape))
    return primitives.sample(name, fn, obs=obs, obs_mask=obs_mask, infer=infer)


def param(name, init_value=None, **kwargs):
    """``ppl.param``; without an initial value, the value learned by ``SVI``. As in Pyro, an
    initial value is mapped into the constraint's support (through the unconstrained space)."""
    constraint = kwargs.get("constraint")
    if constraint is not None and init_value is not None and not callable(init_value):
        transform = biject_to(constraint)
        init_value = transform(transform.inv(jnp.asarray(init_value)))
    value = primitives.param(name, init_value, **kwargs)
    if value is None and init_value is None:
        value = _PARAM_STORE.get(name)
    return value


sample = bind(sample, "numpyro")
param = bind(param, "numpyro")
plate = bind(primitives.plate, "numpyro")
deterministic = bind(primitives.deterministic, "numpyro")
factor = bind(primitives.factor, "numpyro")
