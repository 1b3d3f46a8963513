"""pyro-api aliases for the ``ppl`` backends: ``ppl-pyro`` and ``ppl-numpyro``.

``register()`` registers them with ``pyroapi`` (PyPI ``pyro-api``); then
``with pyroapi.pyro_backend("ppl-numpyro"):`` runs pyro-api code through ``ppl``'s primitives
and handlers on that backend. Each alias's ``pyro`` and ``handlers`` modules are ``ppl``'s
front end pinned to the backend (``<backend>_primitives``, ``<backend>_handlers`` here); its
``infer``, ``optim`` and ``ops`` modules, and the parameter store, live in the backend
(``ppl/backends/<name>/pyroapi_*.py``).

>>> from ppl.handlers.pyroapi import ALIASES
>>> sorted(ALIASES)
['ppl-numpyro', 'ppl-pyro']
"""

from __future__ import annotations

__all__ = ["ALIASES", "register"]

ALIASES: dict[str, dict[str, str]] = {
    "ppl-pyro": {
        "pyro": "ppl.handlers.pyroapi.pyro_primitives",
        "handlers": "ppl.handlers.pyroapi.pyro_handlers",
        "distributions": "pyro.distributions",
        "infer": "pyro.infer",
        "optim": "pyro.optim",
        "ops": "torch",
    },
    "ppl-numpyro": {
        "pyro": "ppl.handlers.pyroapi.numpyro_primitives",
        "handlers": "ppl.handlers.pyroapi.numpyro_handlers",
        "distributions": "numpyro.distributions",
        "infer": "ppl.backends.numpyro.pyroapi_infer",
        "optim": "ppl.backends.numpyro.pyroapi_optim",
        "ops": "ppl.backends.numpyro.pyroapi_ops",
    },
}


def register() -> tuple[str, ...]:
    """Register the aliases with ``pyroapi`` and return their names."""
    from pyroapi import register_backend

    for alias, modules in ALIASES.items():
        register_backend(alias, modules)
    return tuple(ALIASES)
