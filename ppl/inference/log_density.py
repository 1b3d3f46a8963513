"""Targets given as a log density instead of a model: ``ppl.infer(log_density, method, dim=d)``.

The log density becomes a one-site model: ``x`` of shape ``(dim,)`` on the real line, with a
standard normal "carrier" whose density a factor cancels, so the model's density is exactly
``exp(log_density(x))`` (normalized or not; ``Posterior.log_z`` estimates its normalizer). Prior
draws of ``x`` are carrier draws, ``N(0, I)``: that is what initialisations such as
``init_q0="prior"`` see.

>>> import ppl
>>> from ppl import ops
>>> def log_density(x):  # N(1, I) in two dimensions, unnormalized: log Z = log(2 pi)
...     return -0.5 * ops.sum((x - 1.0) ** 2)
>>> post = ppl.infer(log_density, "nuts", dim=2, backend="numpyro", num_warmup=200,
...                  num_samples=200, progress=False)
>>> post.samples["x"].shape
(1, 200, 2)
"""

from __future__ import annotations

from collections.abc import Callable

from .. import primitives
from ..errors import ModelError, OptionError, ShapeError

__all__ = ["SITE", "as_model"]

#: the site name of the point ``x`` in the model built from a log density
SITE = "x"


def as_model(log_density: Callable, dim: int) -> Callable:
    """The model whose density is ``exp(log_density(x, *args, **kwargs))`` for ``x`` in
    ``R^dim``; ``log_density`` gets one point of shape ``(dim,)`` and returns a scalar."""
    if not callable(log_density):
        raise OptionError(
            f"dim={dim!r} means the target is a log density function, but {log_density!r} is "
            "not callable."
        )
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise OptionError(f"dim must be a positive integer (the length of x), not {dim!r}.")
    name = getattr(log_density, "__name__", "log_density")

    def model(*args, **kwargs):
        from ..distributions import Normal

        carrier = Normal(0.0, 1.0).expand([dim]).to_event(1)
        x = primitives.sample(SITE, carrier)
        value = log_density(x, *args, **kwargs)
        shape = tuple(getattr(value, "shape", ()))
        if shape:
            raise ShapeError(
                f"The log density {name!r} returned shape {shape} for one point x of shape "
                f"({dim},); it must return a scalar. Sum over the last axis, or check dim."
            )
        if value is None:
            raise ModelError(f"The log density {name!r} returned None; return log p(x).")
        primitives.factor("log_density", value - carrier.log_prob(x))

    model.__name__ = name
    model.__qualname__ = name
    model.__doc__ = log_density.__doc__
    return model
