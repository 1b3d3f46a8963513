"""The modelling primitives, dispatched to the active backend at call time.

They mean what they mean in Pyro and NumPyro.

>>> import ppl
>>> from ppl import dist
>>> def model():
...     with ppl.plate("data", 3):
...         return ppl.sample("x", dist.Normal(0.0, 1.0))
>>> ppl.get_backend("pyro").problem(model).layout.shapes
((3,),)
"""

from __future__ import annotations

from .backends import get_backend
from .core.plates import plate_subsample_sizes, subsample_size_override

__all__ = [
    "sample",
    "param",
    "plate",
    "deterministic",
    "factor",
    "subsample",
    "markov",
    "module",
    "plate_subsample_sizes",
]


def sample(name: str, fn, obs=None, *, obs_mask=None, infer: dict | None = None):
    """Draw (or, with ``obs``, observe) a value of site ``name`` from distribution ``fn``."""
    return get_backend().primitives["sample"](name, fn, obs=obs, obs_mask=obs_mask, infer=infer)


def param(name: str, init_value=None, *, constraint=None, event_dim: int | None = None):
    """A learnable parameter (optimised by SVI; fixed at its value by samplers)."""
    options = {} if constraint is None else {"constraint": constraint}
    if event_dim is not None:
        options["event_dim"] = event_dim
    return get_backend().primitives["param"](name, init_value, **options)


def plate(name: str, size: int, subsample_size: int | None = None, dim: int | None = None):
    """A context of conditionally independent draws; ``subsample_size`` draws minibatches and
    scales their log-likelihood by ``size / subsample_size``."""
    subsample_size = subsample_size_override(name, size, subsample_size)
    return get_backend().primitives["plate"](name, size, subsample_size=subsample_size, dim=dim)


def deterministic(name: str, value):
    """Record ``value`` under ``name`` in traces and posteriors."""
    return get_backend().primitives["deterministic"](name, value)


def factor(name: str, log_factor):
    """Add ``log_factor`` to the model's log density."""
    return get_backend().primitives["factor"](name, log_factor)


def subsample(data, event_dim: int):
    """Index ``data`` by the enclosing subsampled plates (a no-op outside them)."""
    return get_backend().primitives["subsample"](data, event_dim=event_dim)


def markov(fn=None, history: int = 1, keep: bool = False):
    """Declare Markov structure, as ``pyro.markov``: ``for t in ppl.markov(range(T)):`` (or
    ``with ppl.markov():``) lets enumerated sites reuse tensor dimensions after ``history``
    steps, so a chain of enumerated sites is summed out in time linear in its length."""
    return get_backend().primitives["markov"](fn, history=history, keep=keep)


def module(name: str, network, **kwargs):
    """Register ``network``'s parameters with the model or guide under ``name`` and return the
    network as a function of its input.

    ``network`` is written once with ``ppl.nn`` (``ppl.nn.MLP``: its parameter tree's leaves
    become the parameters ``f"{name}.{path}"``, fitted by SVI like any ``ppl.param``) or is
    native to the active backend: a ``torch.nn.Module`` on Pyro (through ``pyro.module``), a
    ``flax.linen.Module`` (with ``input_shape=``, the shape of one input, and optionally
    ``apply_rng=["dropout"]``) or an ``equinox.Module`` on NumPyro, their leaves registered as
    ``f"{name}.{path}"`` too (``pip install ppl[nn]``; ``ppl.backends.numpyro.module``). A
    network of the other backend's library is refused with a ``ModelError``.

    >>> import ppl
    >>> from ppl import handlers
    >>> def guide(x):
    ...     return ppl.module("encoder", ppl.nn.MLP([4, 8, 2]))(x)
    >>> with ppl.backend("pyro"):
    ...     tr = handlers.trace(guide).get_trace(ppl.ops.ones((3, 4)))
    >>> [name for name, site in tr.items() if site.type == "param"][:2]
    ['encoder.0.b', 'encoder.0.w']
    """
    return get_backend().primitives["module"](name, network, **kwargs)
