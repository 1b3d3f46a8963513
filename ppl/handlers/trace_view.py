"""``ppl.Trace`` and ``ppl.Site``: one view of an execution trace, the same on both backends.

A backend records a trace in its own form (Pyro's ``Trace`` graph, NumPyro's ordered dict of
message dicts). ``Trace`` reads it through the backend's handler glue and presents every site as a
``Site`` (defined in ``ppl.core.sites``) with the same fields on both backends.

>>> import ppl
>>> from ppl import dist, handlers
>>> def model():
...     x = ppl.sample("x", dist.Normal(0.0, 1.0))
...     ppl.sample("y", dist.Normal(x, 1.0), obs=0.5)
>>> with ppl.backend("pyro"):
...     tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
>>> list(tr), tr["y"].is_observed, tr["x"].type
(['x', 'y'], True, 'sample')
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..core.sites import SITE_TYPES, Site
from ..errors import HandlerError

__all__ = ["Site", "Trace", "SITE_TYPES"]


class Trace(Mapping):
    """An ordered mapping from site name to ``Site``, read from a backend's native trace.

    Parameters
    ----------
    nodes : mapping
        The backend's ordered mapping of site name to its own site record.
    backend : str
        The name of the backend that recorded it.
    native : object
        The backend's trace object (what ``replay`` passes back to the backend).

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     ppl.sample("x", dist.Normal(0.0, 1.0), obs=0.0)
    >>> tr = handlers.trace(model).get_trace()
    >>> round(float(tr.log_prob_sum()), 4)
    -0.9189
    """

    def __init__(self, nodes: Mapping, backend: str, native: Any = None):
        self._nodes = nodes
        self._sites: dict[str, Site] = {}
        self.backend = backend
        self.native = nodes if native is None else native

    def _glue(self):
        from ..backends import get_backend

        return get_backend(self.backend).handlers

    def _names(self) -> list[str]:
        glue = self._glue()
        return [name for name, raw in self._nodes.items() if glue.site_type(raw) in SITE_TYPES]

    def __getitem__(self, name: str) -> Site:
        if name not in self._sites:
            raw = self._nodes[name]
            glue = self._glue()
            if glue.site_type(raw) not in SITE_TYPES:
                raise KeyError(name)
            self._sites[name] = glue.to_site(raw)
        return self._sites[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        sites = ", ".join(f"{name}: {self[name].type}" for name in self)
        return f"Trace({self.backend}; {sites})"

    def sample_sites(self, observed: bool | None = None) -> dict[str, Site]:
        """The sample sites, all of them or only the observed (``True``) or latent (``False``)."""
        return {
            name: site
            for name, site in self.items()
            if site.type == "sample" and (observed is None or site.is_observed == observed)
        }

    def log_prob_sum(self, site_filter: Callable[[Site], bool] | None = None):
        """The sum of ``Site.log_prob()`` over the sample sites (those ``site_filter`` keeps),
        a scalar array of the backend: the log joint density as the backend computes it."""
        total = 0.0
        for site in self.sample_sites().values():
            if site_filter is None or site_filter(site):
                total = total + site.log_prob().sum()
        return total


def as_native_trace(trace, backend_name: str):
    """The backend's own trace behind ``trace`` (a ``ppl.Trace`` recorded on ``backend_name``),
    or a ``HandlerError`` naming both backends when it was recorded on another one."""
    if not isinstance(trace, Trace):
        raise HandlerError(
            f"replay needs a ppl.Trace (from handlers.trace(fn).get_trace(...)), not "
            f"{type(trace).__name__}."
        )
    if trace.backend != backend_name:
        raise HandlerError(
            f"replay was given a trace recorded on the {trace.backend!r} backend, but the active "
            f"backend is {backend_name!r}. Record the trace on the {backend_name!r} backend (or "
            f"replay under `with ppl.backend({trace.backend!r}):`)."
        )
    return trace.native
