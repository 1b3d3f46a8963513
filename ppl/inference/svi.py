"""SVI: each backend's own stochastic variational inference, by name.

Guides by name: ``normal`` (AutoNormal), ``mvn`` (full-rank AutoMultivariateNormal), ``lowrank``,
``delta`` (MAP), ``laplace``, ``iaf`` and ``bnaf`` (normalizing flows), or a guide function.
Objectives by name: ``elbo``, ``meanfield_elbo``, ``tracegraph_elbo`` (score function with
baselines), ``renyi`` (with ``alpha``) and ``iwae`` (Rényi with alpha 0).

Default rule: the guide starts at the MAP point (Adam on the potential with a decaying rate),
which is where badly conditioned posteriors defeat a guide started at the prior median.

>>> import ppl
>>> from ppl import dist
>>> def model():
...     ppl.sample("x", dist.Normal(1.0, 2.0))
>>> post = ppl.infer(model, "svi", num_steps=300, lr=0.05, progress=False)
>>> post.samples["x"].shape
(1, 1000)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import OptionError, did_you_mean
from .driver import Draws
from .optimize import find_map

__all__ = ["KIND", "Options", "init", "step", "sample", "GUIDES", "OBJECTIVES"]

KIND = "fit"
GUIDES = ("normal", "mvn", "lowrank", "delta", "laplace", "iaf", "bnaf")
OBJECTIVES = ("elbo", "meanfield_elbo", "tracegraph_elbo", "renyi", "iwae")
INITS = ("map", "median")


def _check(name, value, choices, what):
    if isinstance(value, str) and value not in choices:
        raise OptionError(
            f"Unknown {what} {value!r} for 'svi'; choose one of {choices}"
            + (" or pass a function." if what == "guide" else ".")
            + did_you_mean(value, choices)
        )


@dataclass(frozen=True)
class Options:
    """Options of ``svi``.

    guide: a name from ``GUIDES`` or a guide function. objective: a name from ``OBJECTIVES``.
    optimizer / lr: the optimizer by name and its learning rate. num_steps: optimisation steps.
    num_samples: draws from the fitted guide. num_particles: ELBO particles per step.
    alpha: the Rényi divergence order (``renyi``). init: ``"map"`` (start at the MAP point,
    found in ``map_steps`` steps) or ``"median"`` (the backend's default start).
    """

    guide: str | Callable = "normal"
    objective: str = "elbo"
    optimizer: str = "adam"
    lr: float = 0.01
    num_steps: int = 3000
    num_samples: int = 1000
    num_particles: int = 1
    alpha: float = 0.5
    init: str = "map"
    map_steps: int = 2000

    def __post_init__(self):
        _check("guide", self.guide, GUIDES, "guide")
        _check("objective", self.objective, OBJECTIVES, "objective")
        _check("init", self.init, INITS, "init")


def _runner(problem, options):
    return problem.backend.svi(problem, options)


def init(problem, key, options):
    map_key, svi_key = problem.backend.split(key)
    start = None
    if options.init == "map":
        z = find_map(problem, map_key, options.map_steps)
        start = {k: v for k, v in problem.constrain(z).items() if k in problem.layout.names}
    return _runner(problem, options).init(svi_key, start)


def step(state, key, problem, options):
    return _runner(problem, options).step(state, key)


def sample(state, key, problem, options, num_samples):
    return Draws(_runner(problem, options).sample(state, key, num_samples))
