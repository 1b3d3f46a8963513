"""Process-wide numeric precision, shared by both backends.

``ppl.set_precision("float64")`` (or the environment variable ``PPL_PRECISION``) makes every
backend compute in double precision: JAX's x64 mode on NumPyro, the default dtype on torch.

>>> import ppl
>>> ppl.get_precision()
'float32'
"""

from __future__ import annotations

import os

from .errors import OptionError, did_you_mean

__all__ = ["set_precision", "get_precision"]

PRECISIONS = ("float32", "float64")
_state = {"precision": os.environ.get("PPL_PRECISION", "float32")}
if _state["precision"] not in PRECISIONS:
    raise OptionError(
        f"PPL_PRECISION={_state['precision']!r} is not a precision; use one of {PRECISIONS}."
    )


def set_precision(precision: str) -> None:
    """Set the floating-point precision of every backend (``"float32"`` or ``"float64"``)."""
    if precision not in PRECISIONS:
        raise OptionError(
            f"Unknown precision {precision!r}; use one of {PRECISIONS}."
            + did_you_mean(precision, PRECISIONS)
        )
    _state["precision"] = precision
    from .backends import loaded_backends

    for backend in loaded_backends():
        backend.apply_precision(precision)


def get_precision() -> str:
    """The active precision: ``"float32"`` (default) or ``"float64"``."""
    return _state["precision"]
