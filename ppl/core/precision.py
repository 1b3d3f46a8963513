"""The process-wide numeric precision, as a value: ``ppl.set_precision`` (in ``ppl.config``)
stores it here and applies it to the loaded backends; a backend reads it when it loads.

>>> get_precision() in PRECISIONS
True
"""

from __future__ import annotations

import os

from ..errors import OptionError, did_you_mean

__all__ = ["PRECISIONS", "get_precision", "store_precision"]

PRECISIONS = ("float32", "float64")
_state = {"precision": os.environ.get("PPL_PRECISION", "float32")}
if _state["precision"] not in PRECISIONS:
    raise OptionError(
        f"PPL_PRECISION={_state['precision']!r} is not a precision; use one of {PRECISIONS}."
    )


def store_precision(precision: str) -> None:
    """Record ``precision`` (``"float32"`` or ``"float64"``); an unknown name is an
    ``OptionError`` naming the choices."""
    if precision not in PRECISIONS:
        raise OptionError(
            f"Unknown precision {precision!r}; use one of {PRECISIONS}."
            + did_you_mean(precision, PRECISIONS)
        )
    _state["precision"] = precision


def get_precision() -> str:
    """The active precision: ``"float32"`` (default) or ``"float64"``."""
    return _state["precision"]
