"""NumPyro's part of the pyro-api alias ``ppl-numpyro``: the parameter store that Pyro code
expects (filled by ``pyroapi_infer.SVI``), and a ``param`` initial value mapped into its
constraint's support as Pyro maps it (the alias's ``pyro`` module,
``ppl.handlers.pyroapi.numpyro_primitives``, runs ``ppl``'s primitives)."""

from __future__ import annotations

import jax.numpy as jnp
from numpyro.distributions.transforms import biject_to

__all__ = ["get_param_store", "clear_param_store", "constrained_init"]

_PARAM_STORE: dict = {}


def get_param_store() -> dict:
    """The learned parameters of the last ``SVI.step`` (name -> constrained value)."""
    return _PARAM_STORE


def clear_param_store() -> None:
    _PARAM_STORE.clear()


def constrained_init(constraint, init_value):
    """``init_value`` mapped into the support of ``constraint`` through the unconstrained space,
    as Pyro does (``None`` or a callable initial value is returned as it is)."""
    if constraint is None or init_value is None or callable(init_value):
        return init_value
    transform = biject_to(constraint)
    return transform(transform.inv(jnp.asarray(init_value)))
