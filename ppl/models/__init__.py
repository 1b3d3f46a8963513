"""``ppl.models``: a registry of ready models with default data and known answers.

Each entry is built on first ``get`` (data are generated or loaded then, never on import) and
cached; the model functions are written once in ``ppl`` primitives and run on every backend the
spec declares.

>>> import ppl
>>> "funnel" in ppl.models.names()
True
>>> spec = ppl.models.get("funnel")
>>> spec.family, spec.log_z, spec.backends
('target', 0.0, ('numpyro', 'pyro'))
>>> ppl.models.get("funel")
Traceback (most recent call last):
...
ppl.errors.ModelError: Unknown model 'funel'. Did you mean 'funnel'? ppl.models.names() ...
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable

from ..errors import ModelError, did_you_mean
from .spec import ModelSpec, compare, element_names

__all__ = ["ModelSpec", "names", "get", "register", "compare", "element_names", "specs"]

_P = "ppl.models."
# name -> "module:factory"; the factory takes no argument and returns a ModelSpec
_REGISTRY: dict[str, str | Callable[[], ModelSpec]] = {
    "eight_schools_centered": _P + "eight_schools:centered_spec",
    "eight_schools_noncentered": _P + "eight_schools:noncentered_spec",
    "linear_regression": _P + "regression:linear_spec",
    "logistic_regression": _P + "regression:logistic_spec",
    "hierarchical_logistic_regression": _P + "regression:hierarchical_logistic_spec",
    "gaussian_mixture_enum": _P + "mixture:enumerated_spec",
    "gaussian_mixture": _P + "mixture:marginal_spec",
    "gaussian_hmm": _P + "hmm:hmm_spec",
    "bnn_regression": _P + "bnn:regression_spec",
    "bnn_classification": _P + "bnn:classification_spec",
    "spike_and_slab_regression": _P + "sparse:spike_and_slab_spec",
    "horseshoe_regression": _P + "sparse:horseshoe_spec",
    "sparse_bandit_reward": _P + "bandit:sparse_bandit_spec",
    "gamma_poisson": _P + "conjugate:gamma_poisson_spec",
    "dirichlet_multinomial": _P + "conjugate:dirichlet_multinomial_spec",
    "funnel": _P + "targets:funnel_spec",
    "gmm_ring_2d": _P + "targets:ring_spec",
    "gmm_40_modes": _P + "targets:forty_modes_spec",
    "gmm_challenging_2d": _P + "targets:challenging_spec",
    "double_well": _P + "energies:double_well_spec",
    "banana": _P + "energies:banana_spec",
    "rezende_u1": _P + "energies:u1_spec",
    "rezende_u2": _P + "energies:u2_spec",
    "rezende_u3": _P + "energies:u3_spec",
    "rezende_u4": _P + "energies:u4_spec",
    "gp_regression": _P + "gp:exact_gp_spec",
    "svgp_classification": _P + "gp_gpytorch:svgp_spec",
    "change_point": _P + "discrete:change_point_spec",
    "zero_inflated_poisson": _P + "discrete:zero_inflated_poisson_spec",
    "vae_digits": _P + "amortized:vae_spec",
    "amortized_regression": _P + "amortized:regression_spec",
}
_POSTERIORDB = (
    "eight_schools-eight_schools_noncentered",
    "kidiq-kidscore_momiq",
    "sblrc-blr",
    "earnings-logearn_height",
    "nes2000-nes",
    "arK-arK",
    "low_dim_gauss_mix-low_dim_gauss_mix",
)
for _name in _POSTERIORDB:
    _REGISTRY[_name] = functools.partial(
        lambda name: importlib.import_module(_P + "posteriordb").posteriordb_spec(name), _name
    )


def names() -> tuple[str, ...]:
    """The registered model names, in registration order."""
    return tuple(_REGISTRY)


def register(name: str, factory: str | Callable[[], ModelSpec]) -> None:
    """Add a model: ``factory`` is a ``"module:function"`` string or a callable, called on the
    first ``get(name)`` and returning a ``ModelSpec``."""
    if name in _REGISTRY:
        raise ModelError(f"A model named {name!r} is already registered.")
    _REGISTRY[name] = factory


@functools.cache
def get(name: str) -> ModelSpec:
    """The ``ModelSpec`` registered under ``name`` (built on first use, then cached)."""
    factory = _REGISTRY.get(name)
    if factory is None:
        raise ModelError(
            f"Unknown model {name!r}."
            + did_you_mean(name, _REGISTRY)
            + " ppl.models.names() (or `ppl models`) lists the ready models."
        )
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    spec = factory()
    if spec.name != name:
        raise ModelError(f"The factory of model {name!r} built a spec named {spec.name!r}.")
    return spec


def specs() -> list[ModelSpec]:
    """Every registered ``ModelSpec`` (builds them all)."""
    return [get(name) for name in names()]
