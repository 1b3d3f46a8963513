"""ppl: write a model once, run it on Pyro or NumPyro, swap inference algorithms by name.

>>> import ppl
>>> from ppl import dist
>>> def model():
...     ppl.sample("x", dist.Normal(0.0, 1.0))
>>> ppl.get_backend().name in ppl.backends()
True

Attributes that need more than the standard library (inference, handlers, models) are loaded on
first use, so ``import ppl`` imports neither torch nor jax.
"""

from __future__ import annotations

import importlib
import sys

from . import distributions, errors, ops
from .backends import backend, backends, get_backend, set_backend
from .config import get_precision, set_precision
from .primitives import deterministic, factor, markov, module, param, plate, sample, subsample

dist = distributions
# ``from ppl.dist import constraints`` (an import statement needs a module of that name)
sys.modules[f"{__name__}.dist"] = distributions

__version__ = "0.1.0"

# public name -> "module:attr" (or "module" for a submodule), imported on first access
_LAZY = {
    "handlers": "ppl.handlers",
    "reparam": "ppl.reparam",
    "models": "ppl.models",
    "decide": "ppl.decide",
    "inference": "ppl.inference",
    "plots": "ppl.plots",
    "nn": "ppl.inference.nn",
    "Trace": "ppl.handlers.trace_view:Trace",
    "Site": "ppl.handlers.trace_view:Site",
    "infer": "ppl.inference.infer:infer",
    "algorithms": "ppl.inference.registry:algorithms",
    "register_algorithm": "ppl.inference.registry:register_algorithm",
    "AlgorithmSpec": "ppl.inference.registry:AlgorithmSpec",
    "Posterior": "ppl.inference.posterior:Posterior",
    "predictive": "ppl.inference.predictive:predictive",
    "load": "ppl.inference.posterior:load",
}

__all__ = [
    "backend",
    "backends",
    "get_backend",
    "set_backend",
    "get_precision",
    "set_precision",
    "sample",
    "param",
    "plate",
    "deterministic",
    "factor",
    "subsample",
    "markov",
    "module",
    "nn",
    "dist",
    "distributions",
    "ops",
    "errors",
    "handlers",
    "reparam",
    "models",
    "decide",
    "inference",
    "plots",
    "Trace",
    "Site",
    "infer",
    "algorithms",
    "register_algorithm",
    "AlgorithmSpec",
    "Posterior",
    "predictive",
    "load",
]


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'ppl' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    value = getattr(module, attr) if attr else module
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
