"""Submodules reachable as attributes of their package, imported on first use.

``ppl.inference.sgmcmc.base.SGOptions`` after ``import ppl`` (the README's path) works without
importing every algorithm up front.

>>> import types
>>> getattr_ = submodule_getattr("ppl.core")
>>> isinstance(getattr_("lazy"), types.ModuleType)
True
>>> getattr_("nothing_here")
Traceback (most recent call last):
...
AttributeError: module 'ppl.core' has no attribute 'nothing_here'
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable

__all__ = ["submodule_getattr"]


def submodule_getattr(package: str) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that imports its submodule ``name`` on first
    access, and raises ``AttributeError`` for any other name."""

    def __getattr__(name: str):
        if not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
