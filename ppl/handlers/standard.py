"""The effect handlers, one small class each, meaning the same on both backends.

Each is a context manager, a decorator and a higher-order function (see ``Handler``), with
NumPyro's signatures: ``seed(model, rng_seed=0)``, ``condition(model, data={...})``,
``trace(model).get_trace(*args, **kwargs)``.

>>> import ppl
>>> from ppl import dist, handlers
>>> def model():
...     x = ppl.sample("x", dist.Normal(0.0, 1.0))
...     return ppl.sample("y", dist.Normal(x, 1.0))
>>> conditioned = handlers.condition(model, data={"x": 2.0})
>>> tr = handlers.trace(handlers.seed(conditioned, rng_seed=0)).get_trace()
>>> float(tr["x"].value), tr["x"].is_observed, tr["y"].is_observed
(2.0, True, False)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import HandlerError, UnknownSiteWarning, did_you_mean
from .base import Handler
from .trace_view import Site, Trace, as_native_trace

__all__ = [
    "trace",
    "replay",
    "condition",
    "substitute",
    "seed",
    "block",
    "scale",
    "mask",
    "do",
    "reparam",
]


def _as_array(backend, value):
    """``value`` as an array of ``backend`` (arrays of it, tracers included, pass through)."""
    if value is None or backend.is_array(value):
        return value
    return backend.asarray(value)


def _values(backend, data: Mapping | None, handler: str) -> dict:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise HandlerError(
            f"{handler} needs data as a mapping of site name to value, not {data!r}."
        )
    return {name: _as_array(backend, value) for name, value in data.items()}


class trace(Handler):
    """Record every site the wrapped function reaches.

    ``with handlers.trace() as tr:`` binds a ``ppl.Trace`` that fills as the block runs;
    ``handlers.trace(fn).get_trace(*args, **kwargs)`` runs ``fn`` and returns it.

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     ppl.sample("x", dist.Normal(0.0, 1.0))
    >>> with handlers.trace() as tr, handlers.seed(rng_seed=1):
    ...     model()
    >>> list(tr)
    ['x']
    """

    def __init__(self, fn: Callable | None = None):
        super().__init__(fn)
        self.trace: Trace | None = None

    def _native(self, glue, backend):
        return glue.trace()

    def _enter_value(self, native, backend):
        self.trace = Trace(native.trace_nodes(), backend.name, native.trace_object())
        return self.trace

    def get_trace(self, *args, **kwargs) -> Trace:
        """Run the wrapped function on ``args``/``kwargs`` and return its ``Trace``."""
        self(*args, **kwargs)
        return self.trace


class replay(Handler):
    """Give every sample site the value it has in ``trace`` (a ``ppl.Trace`` recorded on the
    same backend); sites absent from ``trace`` run as usual.

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     return ppl.sample("x", dist.Normal(0.0, 1.0))
    >>> tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    >>> bool(handlers.seed(handlers.replay(model, trace=tr), rng_seed=1)() == tr["x"].value)
    True
    """

    def __init__(self, fn: Callable | None = None, trace: Trace | None = None):
        super().__init__(fn)
        if trace is None:
            raise HandlerError("replay needs trace=, a ppl.Trace recorded by handlers.trace.")
        self.trace = trace

    def _native(self, glue, backend):
        return glue.replay(as_native_trace(self.trace, backend.name))


class condition(Handler):
    """Observe the sample sites named in ``data`` at the given values.

    A name that the model never samples (under this handler) is reported with an
    ``UnknownSiteWarning`` when the wrapped function returns.

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     return ppl.sample("x", dist.Normal(0.0, 1.0))
    >>> float(handlers.condition(model, data={"x": 0.5})())
    0.5
    """

    def __init__(self, fn: Callable | None = None, data: Mapping[str, Any] | None = None):
        super().__init__(fn)
        if data is None:
            raise HandlerError("condition needs data=, a mapping of site name to observed value.")
        self.data = data

    def _native(self, glue, backend):
        return glue.condition(_values(backend, self.data, "condition"))

    def _finish(self, native, backend) -> None:
        seen = native.seen_sites()
        unknown = [name for name in self.data if name not in seen]
        for name in unknown:
            warnings.warn(
                f"condition: the model has no sample site {name!r}, so it is not conditioned "
                f"(the sample sites reached are {sorted(seen)})." + did_you_mean(name, seen),
                UnknownSiteWarning,
                stacklevel=4,
            )


class substitute(Handler):
    """Replace the values of sample and param sites by ``data[name]`` (or by
    ``substitute_fn(site)`` where it returns a value), without marking them observed.

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     return ppl.sample("x", dist.Normal(0.0, 1.0))
    >>> tr = handlers.trace(handlers.substitute(model, data={"x": -1.0})).get_trace()
    >>> float(tr["x"].value), tr["x"].is_observed
    (-1.0, False)
    """

    def __init__(
        self,
        fn: Callable | None = None,
        data: Mapping[str, Any] | None = None,
        substitute_fn: Callable[[Site], Any] | None = None,
    ):
        super().__init__(fn)
        if (data is None) == (substitute_fn is None):
            raise HandlerError("substitute needs exactly one of data= or substitute_fn=.")
        self.data = data
        self.substitute_fn = substitute_fn

    def _native(self, glue, backend):
        if self.substitute_fn is None:
            return glue.substitute(_values(backend, self.data, "substitute"))
        user_fn = self.substitute_fn

        def value_for(raw):
            return _as_array(backend, user_fn(glue.to_site(raw)))

        return glue.substitute(None, value_for)


class seed(Handler):
    """Draw every sample site from explicit random keys derived from ``rng_seed``.

    The same ``rng_seed`` gives the same draws on the same backend; each call of a seeded
    function starts again from ``rng_seed``. ``rng_seed`` is an integer or a key of the backend
    (``backend.key(...)``); ``None`` draws keys from an enclosing ``seed``. A seed nested in
    another one takes precedence for the sites inside it. Neither backend's global random state
    is read or changed (on torch the global generator is forked for the block and restored).

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     return ppl.sample("x", dist.Normal(0.0, 1.0))
    >>> a = handlers.seed(model, rng_seed=3)()
    >>> b = handlers.seed(model, rng_seed=3)()
    >>> bool(a == b)
    True
    """

    def __init__(self, fn: Callable | None = None, rng_seed: Any = None):
        super().__init__(fn)
        if isinstance(rng_seed, (bool, float)):
            raise HandlerError(f"seed needs rng_seed to be an integer or a key, not {rng_seed!r}.")
        if isinstance(rng_seed, np.integer):
            rng_seed = int(rng_seed)
        self.rng_seed = rng_seed

    def _native(self, glue, backend):
        return glue.seed(self.rng_seed)


class block(Handler):
    """Hide sites from the handlers outside this one (all sites by default).

    Parameters
    ----------
    hide_fn : callable, optional
        ``hide_fn(site: ppl.Site) -> bool``; takes precedence over the other options.
    hide : list of str, optional
        Names of the sites to hide.
    expose_types : list of str, optional
        Site types to let through (``"sample"``, ``"param"``, ...); the others are hidden.
    expose : list of str, optional
        Names of the sites to let through; the others are hidden.

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     ppl.sample("a", dist.Normal(0.0, 1.0))
    ...     ppl.sample("b", dist.Normal(0.0, 1.0))
    >>> seeded = handlers.seed(handlers.block(model, hide=["a"]), rng_seed=0)
    >>> list(handlers.trace(seeded).get_trace())
    ['b']
    """

    def __init__(
        self,
        fn: Callable | None = None,
        hide_fn: Callable[[Site], bool] | None = None,
        hide: list[str] | None = None,
        expose_types: list[str] | None = None,
        expose: list[str] | None = None,
    ):
        super().__init__(fn)
        if hide_fn is not None:
            self.hide_fn = hide_fn
        elif hide is not None:
            self.hide_fn = lambda site: site.name in hide
        elif expose_types is not None:
            self.hide_fn = lambda site: site.type not in expose_types
        elif expose is not None:
            self.hide_fn = lambda site: site.name not in expose
        else:
            self.hide_fn = lambda site: True

    def _native(self, glue, backend):
        hide_fn = self.hide_fn
        return glue.block(lambda raw: bool(hide_fn(glue.to_site(raw))))


class scale(Handler):
    """Multiply the log density of every sample site by ``scale`` (a positive number, or an
    array broadcastable to the sites' batch shapes).

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     ppl.sample("x", dist.Normal(0.0, 1.0), obs=0.0)
    >>> round(float(handlers.trace(handlers.scale(model, scale=2.0)).get_trace().log_prob_sum()), 4)
    -1.8379
    """

    def __init__(self, fn: Callable | None = None, scale: Any = 1.0):
        super().__init__(fn)
        self.scale = scale

    def _native(self, glue, backend):
        value = (
            self.scale if isinstance(self.scale, (int, float)) else _as_array(backend, self.scale)
        )
        try:
            positive = bool(np.all(backend.to_numpy(value) > 0))
        except Exception:  # a traced value inside jit: nothing to check now
            positive = True
        if not positive:
            raise HandlerError(f"scale needs a positive scale, not {self.scale!r}.")
        return glue.scale(value)


class mask(Handler):
    """Keep the log density of sample sites where ``mask`` is true and drop it elsewhere
    (``mask`` is a bool, or a boolean array broadcastable to the sites' batch shapes).

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     ppl.sample("x", dist.Normal(0.0, 1.0), obs=0.0)
    >>> float(handlers.trace(handlers.mask(model, mask=False)).get_trace().log_prob_sum())
    0.0
    """

    def __init__(self, fn: Callable | None = None, mask: Any = True):
        super().__init__(fn)
        self.mask = mask

    def _native(self, glue, backend):
        value = self.mask if isinstance(self.mask, bool) else _as_array(backend, self.mask)
        return glue.mask(value)


class do(Handler):
    """Intervene: the model sees ``data[name]`` at the named sites, but the sites themselves
    are still drawn from their distributions, so the intervention cuts the dependency of the
    downstream sites on their parents (Pyro's and NumPyro's ``do``). The intervened value is
    recorded under the name ``f"{name}__CF"`` only inside the ``do`` block.

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     x = ppl.sample("x", dist.Normal(0.0, 1.0))
    ...     return x
    >>> float(handlers.seed(handlers.do(model, data={"x": 3.0}), rng_seed=0)())
    3.0
    """

    def __init__(self, fn: Callable | None = None, data: Mapping[str, Any] | None = None):
        super().__init__(fn)
        if data is None:
            raise HandlerError("do needs data=, a mapping of site name to intervention value.")
        self.data = data

    def _native(self, glue, backend):
        return glue.do(_values(backend, self.data, "do"))


class reparam(Handler):
    """Reparameterize sample sites by the ``ppl.reparam`` strategies in ``config``.

    Parameters
    ----------
    config : dict or callable
        ``{site name: Reparam}``, or ``config(site: ppl.Site) -> Reparam or None``. A backend's
        own reparameterizer (``numpyro.infer.reparam.LocScaleReparam``, ...) is passed through.

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> from ppl.reparam import LocScale
    >>> def model():
    ...     ppl.sample("theta", dist.Normal(1.0, 2.0))
    >>> reparam_model = handlers.reparam(model, config={"theta": LocScale(0.0)})
    >>> sorted(handlers.trace(handlers.seed(reparam_model, rng_seed=0)).get_trace())
    ['theta', 'theta_decentered']
    """

    def __init__(self, fn: Callable | None = None, config: Any = None):
        super().__init__(fn)
        if config is None or not (isinstance(config, Mapping) or callable(config)):
            raise HandlerError(
                "reparam needs config=, a dict of site name to ppl.reparam strategy, or a "
                "function of a ppl.Site returning one (or None)."
            )
        self.config = config

    def _native(self, glue, backend):
        if isinstance(self.config, Mapping):
            return glue.reparam(dict(self.config))
        user_config = self.config
        return glue.reparam(lambda raw: user_config(glue.to_site(raw)))
