"""Process-wide numeric precision, shared by both backends.

``ppl.set_precision("float64")`` (or the environment variable ``PPL_PRECISION``) makes every
backend compute in double precision: JAX's x64 mode on NumPyro, the default dtype on torch.

>>> import ppl
>>> ppl.get_precision()
'float32'
"""

from __future__ import annotations

from .backends import loaded_backends
from .core.precision import PRECISIONS, get_precision, store_precision

__all__ = ["set_precision", "get_precision", "PRECISIONS"]


def set_precision(precision: str) -> None:
    """Set the floating-point precision of every backend (``"float32"`` or ``"float64"``)."""
    store_precision(precision)
    for backend in loaded_backends():
        backend.apply_precision(precision)
