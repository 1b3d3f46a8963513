"""``Draws``: what a ``"fit"`` algorithm's ``sample`` hands the driver."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["Draws"]


class Draws(NamedTuple):
    """What a ``"fit"`` algorithm's ``sample`` returns: flat draws ``(num, dim)`` and, where the
    algorithm has them, importance log-weights ``(num,)`` of each draw against the target."""

    z: Any
    log_weights: Any = None
