"""The registry of inference algorithms: frozen specs with lazy targets, one line each.

>>> import ppl
>>> all(isinstance(spec, ppl.AlgorithmSpec) for spec in ppl.algorithms())
True
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

from ..errors import OptionError, did_you_mean

__all__ = [
    "AlgorithmSpec",
    "RENAMED",
    "algorithms",
    "get",
    "register_algorithm",
    "validate_options",
]

ENTRY_POINT_GROUP = "ppl.algorithms"


@dataclass(frozen=True)
class AlgorithmSpec:
    """One registered algorithm.

    ``target`` names the module that implements the algorithm contract (``ppl.inference``); it is
    imported only when the algorithm is used or its options are asked for.
    """

    name: str
    family: str
    target: str
    summary: str = ""
    backends: tuple[str, ...] = ("numpyro", "pyro")

    def load(self) -> ModuleType:
        """The module implementing this algorithm."""
        return importlib.import_module(self.target)

    @property
    def options(self) -> type:
        """The algorithm's frozen options dataclass."""
        return self.load().Options

    def defaults(self) -> dict[str, Any]:
        """``{option: default}``."""
        return {
            f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
            for f in dataclasses.fields(self.options)
        }


# One explicit line per algorithm; the target module is imported lazily.
_BUILTIN: tuple[AlgorithmSpec, ...] = (
    AlgorithmSpec("nuts", "mcmc", "ppl.inference.mcmc.nuts", "No-U-Turn sampler (native)"),
    AlgorithmSpec("hmc", "mcmc", "ppl.inference.mcmc.hmc", "Hamiltonian Monte Carlo (native)"),
    AlgorithmSpec("svi", "vi", "ppl.inference.svi", "Stochastic variational inference (native)"),
    AlgorithmSpec("sgld", "sgmcmc", "ppl.inference.sgmcmc.sgld", "Stochastic-gradient Langevin"),
    AlgorithmSpec("psgld", "sgmcmc", "ppl.inference.sgmcmc.psgld", "RMSprop-preconditioned SGLD"),
    AlgorithmSpec("sghmc", "sgmcmc", "ppl.inference.sgmcmc.sghmc", "Stochastic-gradient HMC"),
    AlgorithmSpec("sgnht", "sgmcmc", "ppl.inference.sgmcmc.sgnht", "SG Nose-Hoover thermostat"),
    AlgorithmSpec(
        "cyclical_sgld", "sgmcmc", "ppl.inference.sgmcmc.cyclical_sgld", "SGLD, cyclical step size"
    ),
    AlgorithmSpec(
        "structured_sgmcmc", "sgmcmc", "ppl.inference.sgmcmc.structured", "Structured SG-MCMC"
    ),
    AlgorithmSpec("cmcd", "diffusion", "ppl.inference.diffusion.cmcd", "Controlled MC diffusions"),
    AlgorithmSpec("mcd", "diffusion", "ppl.inference.diffusion.mcd", "Monte Carlo diffusion"),
    AlgorithmSpec(
        "ula", "diffusion", "ppl.inference.diffusion.ula", "Unadjusted Langevin, annealed"
    ),
    AlgorithmSpec("ais", "diffusion", "ppl.inference.diffusion.ais", "Annealed importance (MALA)"),
    AlgorithmSpec("snf", "flow", "ppl.inference.flows.snf", "Stochastic normalizing flow"),
    AlgorithmSpec("realnvp", "flow", "ppl.inference.flows.realnvp", "RealNVP normalizing flow"),
    AlgorithmSpec("gibbs", "gibbs", "ppl.inference.gibbs.gibbs", "Discrete Gibbs + HMC (HMCGibbs)"),
)

#: names no longer registered: ``{old name: why, naming the new one}``
RENAMED: dict[str, str] = {
    "csgld": (
        "'csgld' is now 'cyclical_sgld' (SGLD with a cyclical step size); BlackJAX's csgld is "
        "contour SGLD, a different sampler. Use ppl.infer(model, 'cyclical_sgld', ...)."
    ),
}

_registry: dict[str, AlgorithmSpec] = {}
_entry_points_loaded = {"done": False}


def register_algorithm(spec: AlgorithmSpec, *, overwrite: bool = False) -> AlgorithmSpec:
    """Add ``spec`` to the registry (an error if the name is taken, unless ``overwrite``)."""
    if not isinstance(spec, AlgorithmSpec):
        raise OptionError(f"register_algorithm takes an AlgorithmSpec, not {type(spec).__name__}.")
    if spec.name in _registry and not overwrite and _registry[spec.name] != spec:
        raise OptionError(
            f"An algorithm named {spec.name!r} is already registered; pass overwrite=True to "
            "replace it."
        )
    _registry[spec.name] = spec
    return spec


def _load_entry_points() -> None:
    if _entry_points_loaded["done"]:
        return
    _entry_points_loaded["done"] = True
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        spec = entry_point.load()
        register_algorithm(spec() if callable(spec) else spec)


def _all() -> dict[str, AlgorithmSpec]:
    for spec in _BUILTIN:
        _registry.setdefault(spec.name, spec)
    _load_entry_points()
    return _registry


def algorithms(family: str | None = None) -> tuple[AlgorithmSpec, ...]:
    """The registered algorithms (of one ``family`` if given), sorted by family then name."""
    specs = [s for s in _all().values() if family is None or s.family == family]
    return tuple(sorted(specs, key=lambda s: (s.family, s.name)))


def get(name: str) -> AlgorithmSpec:
    """The spec called ``name``; an ``OptionError`` with "did you mean" otherwise."""
    registry = _all()
    if name not in registry and name in RENAMED:
        raise OptionError(RENAMED[name])
    if name not in registry:
        raise OptionError(
            f"Unknown inference method {name!r}."
            + did_you_mean(name, registry)
            + f" The registered methods are: {', '.join(sorted(registry)) or 'none'}."
            + " (Acting on a posterior, such as Thompson sampling, is not inference: see "
            "ppl.decide.)"
        )
    return registry[name]


def validate_options(spec: AlgorithmSpec, options: dict[str, Any]):
    """``spec.options(**options)``; an unknown option is an error listing the valid ones."""
    defaults = spec.defaults()
    unknown = [k for k in options if k not in defaults]
    if unknown:
        listing = ", ".join(f"{k}={v!r}" for k, v in defaults.items())
        raise OptionError(
            f"Unknown option {unknown[0]!r} for {spec.name!r}."
            + did_you_mean(unknown[0], defaults)
            + f" Its options (with defaults) are: {listing}."
        )
    return spec.options(**options)
