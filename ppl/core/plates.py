"""Plate-size overrides: algorithms set a minibatch size for the user's plates.

``ppl.plate`` (and the pyro-api aliases) ask ``subsample_size_override`` which size a plate
takes inside a ``plate_subsample_sizes`` block.

>>> with plate_subsample_sizes({"data": 10}):
...     subsample_size_override("data", 1000, None)
10
>>> subsample_size_override("data", 1000, None) is None
True
>>> minibatch_sizes(32), minibatch_sizes({"data": 8}), minibatch_sizes(None)
({'*': 32}, {'data': 8}, {})
"""

from __future__ import annotations

import contextlib
import contextvars
import types
from collections.abc import Iterator, Mapping

from ..errors import OptionError

__all__ = ["ANY_PLATE", "minibatch_sizes", "plate_subsample_sizes", "subsample_size_override"]

#: the key of ``plate_subsample_sizes`` that applies to every plate not named
ANY_PLATE = "*"

_subsample_overrides: contextvars.ContextVar[Mapping[str, int | None]] = contextvars.ContextVar(
    "ppl_subsample_overrides", default=types.MappingProxyType({})
)


def minibatch_sizes(batch_size) -> dict[str, int]:
    """``{plate: subsample size}`` of a minibatch algorithm's ``batch_size`` option: an int sets
    every plate larger than it (``"*"``), a mapping names the plates, ``None`` sets none."""
    if batch_size is None:
        return {}
    return dict(batch_size) if isinstance(batch_size, Mapping) else {ANY_PLATE: int(batch_size)}


@contextlib.contextmanager
def plate_subsample_sizes(
    sizes: Mapping[str, int | None], *, keep_outer: bool = False
) -> Iterator[None]:
    """Inside this block, ``ppl.plate(name, ...)`` uses ``sizes[name]`` as its ``subsample_size``
    (``None``: the whole plate); the name ``"*"`` sets it for every plate larger than it that
    is not named. Algorithms use it to set a minibatch size for the user. ``keep_outer``: an
    enclosing block's sizes win over these (a default that callers can still override)."""
    outer = _subsample_overrides.get()
    merged = {**sizes, **outer} if keep_outer else {**outer, **sizes}
    token = _subsample_overrides.set(merged)
    try:
        yield
    finally:
        _subsample_overrides.reset(token)


def subsample_size_override(name: str, size: int, subsample_size: int | None) -> int | None:
    """The ``subsample_size`` that plate ``name`` of ``size`` takes here: the enclosing
    ``plate_subsample_sizes`` block's, else the one the model gave."""
    overrides = _subsample_overrides.get()
    if name in overrides:
        if overrides[name] is not None and overrides[name] > size:
            raise OptionError(
                f"batch_size {overrides[name]} for the plate {name!r} is larger than the plate "
                f"({size} elements). Give a batch size below {size}, or drop batch_size for "
                "full-batch gradients."
            )
        return overrides[name]
    if overrides.get(ANY_PLATE) is not None and overrides[ANY_PLATE] < size:
        return overrides[ANY_PLATE]
    return subsample_size
