"""The backend table: names, lazy loading, and the active backend of the current context.

A backend is looked up in ``BACKENDS`` and imported on first use, so ``import ppl`` imports neither
torch nor jax, and a user with only one of them installed can use it.

>>> import ppl
>>> ppl.backends()
('numpyro', 'pyro')
>>> with ppl.backend("pyro"):
...     ppl.get_backend().name
'pyro'
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import os
from collections.abc import Iterator

from ..core.precision import get_precision
from ..errors import BackendError, did_you_mean

__all__ = [
    "backends",
    "set_backend",
    "backend",
    "get_backend",
    "load_backend",
    "loaded_backends",
    "bind",
]

# name -> ("module:attr" of the Backend class, the pip packages that backend needs)
BACKENDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "numpyro": ("ppl.backends.numpyro.backend:NumPyroBackend", ("jax", "numpyro")),
    "pyro": ("ppl.backends.pyro.backend:PyroBackend", ("torch", "pyro-ppl")),
}
DEFAULT_BACKEND = "numpyro"

_loaded: dict = {}
_default = {"name": os.environ.get("PPL_BACKEND", DEFAULT_BACKEND)}
_active: contextvars.ContextVar[str | None] = contextvars.ContextVar("ppl_backend", default=None)


def backends() -> tuple[str, ...]:
    """Names of the known backends."""
    return tuple(BACKENDS)


def _check_name(name: str) -> str:
    if name not in BACKENDS:
        raise BackendError(
            f"Unknown backend {name!r}; the backends are {backends()}."
            + did_you_mean(name, BACKENDS)
        )
    return name


def load_backend(name: str):
    """Return the backend object called ``name``, importing its library on first use."""
    _check_name(name)
    if name not in _loaded:
        target, packages = BACKENDS[name]
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            missing = err.name.split(".")[0] if err.name else "?"
            if missing == "ppl":
                raise
            raise BackendError(
                f"The {name!r} backend needs the packages {packages}, but {missing!r} is not "
                f"installed. Install them with: pip install {' '.join(packages)}"
            ) from err
        instance = getattr(module, attr)()
        instance.apply_precision(get_precision())
        _loaded[name] = instance
    return _loaded[name]


def loaded_backends() -> list:
    """The backend objects imported so far in this process."""
    return list(_loaded.values())


def set_backend(name: str) -> None:
    """Set the process-wide default backend (``with ppl.backend(name)`` overrides it locally)."""
    _default["name"] = _check_name(name)


@contextlib.contextmanager
def backend(name: str) -> Iterator:
    """Use backend ``name`` inside this block, in this thread or task only."""
    token = _active.set(_check_name(name))
    try:
        yield load_backend(name)
    finally:
        _active.reset(token)


def get_backend(name: str | None = None):
    """Return the backend object ``name``, or the active one (context, then default)."""
    return load_backend(name or _active.get() or _default["name"])


def bind(fn, name: str):
    """``fn`` that always runs with backend ``name`` active, whoever calls it and from where."""

    @functools.wraps(fn)
    def bound(*args, **kwargs):
        token = _active.set(name)
        try:
            return fn(*args, **kwargs)
        finally:
            _active.reset(token)

    return bound
