"""Pyro's part of the pyro-api alias ``ppl-pyro``: Pyro's own parameter store (the alias's
``pyro`` module, ``ppl.handlers.pyroapi.pyro_primitives``, runs ``ppl``'s primitives)."""

from __future__ import annotations

import pyro

__all__ = ["get_param_store", "clear_param_store"]

get_param_store = pyro.get_param_store
clear_param_store = pyro.clear_param_store
