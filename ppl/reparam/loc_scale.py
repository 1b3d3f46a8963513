"""``LocScale``: move a location-scale site between centred and non-centred form."""

from __future__ import annotations

from ..backends import get_backend
from .base import Reparam, ReparamMessage, ReparamResult

__all__ = ["LocScale"]


class LocScale(Reparam):
    """Partially non-centre a location-scale site (``Normal``, ``StudentT``, ``Cauchy``, ...).

    The site ``x ~ D(loc, scale)`` becomes ``x_decentered ~ D(c * loc, scale ** c)`` and
    ``x = loc + scale ** (1 - c) * (x_decentered - c * loc)``: ``c = 1`` is centred, ``c = 0``
    fully non-centred. The model's distribution is unchanged. Written over the backends' own
    ``LocScaleReparam`` (Pyro and NumPyro).

    Parameters
    ----------
    centered : float, optional
        ``c`` in ``[0, 1]``; ``None`` learns it as a param (``{name}_centered``) with SVI.
    shape_params : tuple of str, optional
        The distribution's other parameters to keep (``("df",)`` for a ``StudentT``).

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> from ppl.reparam import LocScale
    >>> def model():
    ...     return ppl.sample("x", dist.Normal(1.0, 2.0))
    >>> seeded = handlers.seed(handlers.reparam(model, config={"x": LocScale(0.0)}), rng_seed=0)
    >>> tr = handlers.trace(seeded).get_trace()
    >>> z = float(tr["x_decentered"].value)
    >>> abs(float(tr["x"].value) - (1.0 + 2.0 * z)) < 1e-5
    True
    """

    def __init__(self, centered: float | None = None, shape_params: tuple[str, ...] = ()):
        if centered is not None and not 0.0 <= float(centered) <= 1.0:
            from ..errors import OptionError

            raise OptionError(f"LocScale needs centered in [0, 1] or None, not {centered!r}.")
        self.centered = centered
        self.shape_params = tuple(shape_params)

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        return get_backend().handlers.native_reparam(
            "LocScale", msg, centered=self.centered, shape_params=self.shape_params
        )

    def __repr__(self) -> str:
        return f"LocScale(centered={self.centered!r})"
