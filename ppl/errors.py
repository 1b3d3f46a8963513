"""The error catalogue: every error ``ppl`` raises names what is at fault and how to fix it.

>>> from ppl.errors import OptionError, did_you_mean
>>> did_you_mean("nutz", ["nuts", "hmc", "svi"])
" Did you mean 'nuts'?"
>>> issubclass(OptionError, ValueError)
True
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "PPLError",
    "BackendError",
    "ModelError",
    "OptionError",
    "ShapeError",
    "DivergenceError",
    "HandlerError",
    "UnknownSiteWarning",
    "UntrustedResultWarning",
    "UnknownDistributionError",
    "did_you_mean",
]


class PPLError(Exception):
    """Base class of every error raised by ``ppl`` itself."""


class BackendError(PPLError, ValueError):
    """An unknown backend, a backend whose library is missing, or an absent device."""


class ModelError(PPLError, ValueError):
    """The model program is at fault: a bad site, argument, or a non-finite log density."""


class ShapeError(ModelError):
    """An observed value or argument whose shape disagrees with the model."""


class UnknownDistributionError(ModelError, AttributeError):
    """``ppl.dist.X`` where the active backend has no distribution ``X``."""


class OptionError(PPLError, ValueError):
    """An unknown algorithm, option, guide or objective name, or an option of the wrong value."""


class DivergenceError(PPLError, FloatingPointError):
    """A run produced NaN or inf (a step size too large, or a model with a bad region)."""


class HandlerError(PPLError, ValueError):
    """An effect handler was given input it cannot use: a trace recorded on another backend,
    a seed that is not an integer or a key, a non-positive scale."""


class UnknownSiteWarning(UserWarning):
    """A handler was given a site name that the model never reached (a typo, or a site hidden
    by ``block``)."""


class UntrustedResultWarning(UserWarning):
    """A run finished with a result its own diagnostics say not to trust (an importance-weight
    ESS below 1% of the draws, an R-hat above 1.05 over chains, a fit whose loss did not settle);
    the message names the number and the fix."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""`` if none is close."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""
