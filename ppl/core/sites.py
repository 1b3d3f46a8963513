"""``Site``: one site of an execution trace, the same record on both backends.

A backend's handler glue builds it from its own site record (and hands it the function that
computes the site's log density), so the record needs nothing from the backend to exist.
``ppl.Trace`` (in ``ppl.handlers``) presents a trace as a mapping of these.

>>> site = Site("x", "param", 1.0, None, False, {}, ())
>>> site.name, site.type, site.scale
('x', 'param', None)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import HandlerError

__all__ = ["Site", "SITE_TYPES"]

#: the site types a ``Trace`` shows; a backend's other message types are left out
SITE_TYPES = ("sample", "param", "deterministic", "plate")


@dataclass(frozen=True, eq=False)
class Site:
    """One site of a trace.

    Attributes
    ----------
    name : str
        The site's name.
    type : str
        ``"sample"``, ``"param"``, ``"deterministic"`` or ``"plate"`` (a plate's value is its
        subsample indices). Pyro's deterministic sites (observed ``Delta`` sites) are shown as
        ``"deterministic"``, as NumPyro records them.
    value : array
        The value of the site, an array of the backend that recorded it.
    fn : distribution or None
        The distribution of a sample site as the backend records it (NumPyro folds a ``mask``
        into the distribution); ``None`` for other site types.
    is_observed : bool
        Whether the value was given (``obs=``, ``condition``) rather than drawn.
    infer : dict
        The site's ``infer`` options.
    plates : tuple of str
        The names of the plates the site lies in, outermost first.
    scale : float, array or None
        The log-density scale applied by ``scale`` handlers and subsampled plates.
    mask : bool, array or None
        Pyro's ``mask`` (NumPyro keeps it in ``fn``).
    backend : str
        The name of the backend that recorded the site.
    raw : dict
        The backend's own record of the site, for backend-specific code.
    log_prob_fn : callable or None
        The recording backend's ``raw -> elementwise log density`` (what ``log_prob`` calls).
    """

    name: str
    type: str
    value: Any
    fn: Any
    is_observed: bool
    infer: dict
    plates: tuple[str, ...]
    scale: Any = None
    mask: Any = None
    backend: str = ""
    raw: dict = field(default_factory=dict, repr=False)
    log_prob_fn: Callable[[dict], Any] | None = field(default=None, repr=False)

    def __getitem__(self, key: str):
        """``site["value"]``: the attribute ``key``, for code written against the backends'
        site dicts."""
        fields = self.__dataclass_fields__
        if not isinstance(key, str) or key not in fields:
            raise KeyError(f"Site has no field {key!r}; its fields are: {', '.join(fields)}.")
        return getattr(self, key)

    def log_prob(self):
        """The elementwise log density of the value, with scale and mask applied as the
        backend applies them (an array of the site's batch shape).

        Raises
        ------
        HandlerError
            For a site that is not a ``"sample"`` site, or one built without ``log_prob_fn``.
        """
        if self.type != "sample":
            raise HandlerError(
                f"Site {self.name!r} is a {self.type!r} site; only sample sites have a log_prob."
            )
        if self.log_prob_fn is None:
            raise HandlerError(
                f"Site {self.name!r} was built without log_prob_fn, so it cannot compute its "
                "log density; build sites with the backend's handlers.to_site (ppl.Trace does)."
            )
        return self.log_prob_fn(self.raw)
