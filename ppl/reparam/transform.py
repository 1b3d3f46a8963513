"""``Transform``: sample a site in a transformed space."""

from __future__ import annotations

from .. import distributions as dist
from ..backends import get_backend
from ..primitives import sample
from .base import Reparam, ReparamMessage, ReparamResult

__all__ = ["Transform"]


class Transform(Reparam):
    """Sample a site in another space and map it back.

    Without ``transform``, the site must be a ``TransformedDistribution``: its base
    distribution is sampled as ``{name}_base`` and pushed through its transforms (the backends'
    own ``TransformReparam``). With a bijection ``transform`` ``T`` (an affine map, a neural
    flow, ...), any site ``x ~ p`` is sampled as ``{name}_base = u ~ T^{-1}_* p`` (the density
    of ``T^{-1}(x)``) and ``x = T(u)``; the model's distribution is unchanged, and a ``T`` that
    whitens the posterior makes it easier to sample.

    Parameters
    ----------
    transform : backend transform, optional
        A bijection of the active backend (``dist.transforms.AffineTransform(loc, scale)``).

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> from ppl.reparam import Transform
    >>> def model():
    ...     ppl.sample("x", dist.Normal(5.0, 0.1))
    >>> whiten = Transform(dist.transforms.AffineTransform(5.0, 0.1))
    >>> seeded = handlers.seed(handlers.reparam(model, config={"x": whiten}), rng_seed=0)
    >>> tr = handlers.trace(seeded).get_trace()
    >>> u = float(tr["x_base"].value)
    >>> abs(float(tr["x"].value) - (5.0 + 0.1 * u)) < 1e-5
    True
    """

    def __init__(self, transform=None):
        self.transform = transform

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        if self.transform is None:
            return get_backend().handlers.native_reparam("Transform", msg)
        t, fn, value = self.transform, msg["fn"], msg["value"]
        base = dist.TransformedDistribution(fn, [t.inv])
        u = sample(
            f"{msg['name']}_base",
            base,
            obs=None if value is None else t.inv(value),
            infer={"is_observed": msg["is_observed"]},
        )
        x = t(u) if value is None else value
        delta = dist.Delta(x, event_dim=len(fn.event_shape)).mask(False)
        return ReparamResult(fn=delta, value=x, is_observed=True)

    def __repr__(self) -> str:
        return f"Transform({self.transform!r})"
