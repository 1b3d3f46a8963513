"""Type checks of an ``Options`` dataclass's fields, from their annotations.

Every ``Options.__post_init__`` calls ``check_field_types(self)`` before its range checks, so a
range check never compares a string or ``None`` with a number (a bare ``TypeError``) and never
lets NaN through (``nan < 1`` is false). Fields annotated ``int``, ``float``, ``bool``, ``str``
or ``tuple[int, ...]`` are checked (a ``float`` field takes an int and stores it as a float; a
``tuple[int, ...]`` field takes any sequence of ints and stores a tuple); other annotations
(``Any``, unions) are left to the class's own checks.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Options:
...     num_steps: int = 10
...     lr: float = 0.1
...     def __post_init__(self):
...         check_field_types(self)
>>> Options(lr=1).lr
1.0
>>> Options(num_steps="10")
Traceback (most recent call last):
...
ppl.errors.OptionError: Option num_steps must be an integer, got '10' (str).
>>> Options(lr=float("nan"))
Traceback (most recent call last):
...
ppl.errors.OptionError: Option lr must be a number, got nan.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from ..errors import OptionError

__all__ = ["check_at_least", "check_field_types", "check_positive"]


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _fail(name: str, what: str, value) -> None:
    raise OptionError(f"Option {name} must be {what}, got {value!r} ({type(value).__name__}).")


def _check(name: str, kind: str, value):
    """``value`` as stored for a field annotated ``kind``, or an ``OptionError``."""
    if kind == "int":
        if not _is_int(value):
            _fail(name, "an integer", value)
        return int(value)
    if kind == "float":
        if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
            _fail(name, "a number", value)
        if math.isnan(value):
            raise OptionError(f"Option {name} must be a number, got nan.")
        return float(value)
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            _fail(name, "True or False", value)
        return bool(value)
    if kind == "str":
        if not isinstance(value, str):
            _fail(name, "a string", value)
        return value
    if kind == "tuple[int, ...]":
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
            _fail(name, "a sequence of integers", value)
        if not all(_is_int(v) for v in value):
            _fail(name, "a sequence of integers", value)
        return tuple(int(v) for v in value)
    return value


def check_field_types(options) -> None:
    """Check (and normalise, in place) the fields of a frozen ``Options`` dataclass whose
    annotation is one of ``int``, ``float``, ``bool``, ``str``, ``tuple[int, ...]``.

    Raises
    ------
    OptionError
        Naming the first field whose value has the wrong type, or is NaN.
    """
    for f in dataclasses.fields(options):
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        value = getattr(options, f.name)
        checked = _check(f.name, kind, value)
        if checked is not value:
            object.__setattr__(options, f.name, checked)


def check_at_least(options, **minimums: int) -> None:
    """An ``OptionError`` naming the first count option below its least valid value.

    ``check_at_least(options, num_samples=1, num_warmup=0)``; a field whose value is ``None``
    (unset, the algorithm's own default) is skipped.
    """
    for name, least in minimums.items():
        value = getattr(options, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise OptionError(f"Option {name} must be an integer, got {value!r}.")
        if value < least:
            raise OptionError(f"Option {name} must be at least {least}, got {value}.")


def check_positive(options, *names: str) -> None:
    """An ``OptionError`` naming the first of ``names`` that is not a positive number (finite
    values only: ``inf`` is refused too)."""
    for name in names:
        value = getattr(options, name)
        if not 0 < value < math.inf:
            raise OptionError(f"Option {name} must be a positive number, got {value}.")
