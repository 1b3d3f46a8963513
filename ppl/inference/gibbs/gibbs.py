"""Gibbs: discrete latent sites by Gibbs or Metropolis updates, continuous ones by HMC.

Each step updates, in turn: the sites of a user's ``gibbs_fn`` (as NumPyro's ``HMCGibbs``:
``gibbs_fn(key, gibbs_sites, hmc_sites) -> {site: new value}``, constrained values in and out),
every element of every other discrete site (``ppl.inference.gibbs.discrete``: exact conditional
draws where the support has at most ``max_support_size`` values, Metropolis with the modified
uniform proposal above; NumPyro's ``DiscreteHMCGibbs``), then the remaining continuous sites by
one HMC transition of ``num_steps`` leapfrog steps on their conditional potential
(``ppl.inference.gibbs.hmc``; step size and diagonal mass adapted during warmup). Written once
over the array layer: the discrete values sit in the problem's flat vector
(``backend.problem(..., discrete=True)``) and the model is conditioned on them.

A model with no discrete site runs, with this algorithm, as plain HMC on its continuous sites
(Gibbs with one block is that block's kernel), which is a correct answer; ``nuts`` is then the
better choice. A discrete site whose support is unbounded (``Poisson``) or not a range of
integers (``OneHotCategorical``) is refused, naming the site, unless ``gibbs_fn`` updates it.

>>> import numpy as np
>>> import ppl
>>> from ppl import dist
>>> def model(y):
...     k = ppl.sample("k", dist.Categorical(logits=ppl.ops.zeros(3)))
...     ppl.sample("y", dist.Normal(ppl.ops.asarray(np.array([-2.0, 0.0, 2.0]))[k], 1.0), obs=y)
>>> post = ppl.infer(model, "gibbs", args=(1.9,), num_warmup=10, num_samples=200, progress=False)
>>> post.samples["k"].shape, post.samples["k"].dtype.kind
((1, 200), 'i')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ...core import Algorithm, Capabilities
from ...errors import OptionError, did_you_mean
from ..option_types import check_at_least, check_field_types, check_positive
from . import discrete, hmc

__all__ = ["CAPABILITIES", "GibbsInfo", "GibbsState", "Options", "build"]

#: a Markov chain over the flat vector, discrete coordinates included; the step depends on the
#: problem, the options and the state alone
CAPABILITIES = Capabilities(kind="mcmc", shares_compiled_steps=True, discrete=True)
INIT_STRATEGIES = ("uniform", "prior")


@dataclass(frozen=True)
class Options:
    """Options of ``gibbs``.

    num_warmup: steps discarded, while the HMC step size and mass adapt. num_samples: draws
    kept per chain. num_chains: independent chains. thinning: keep every n-th draw.
    num_steps: leapfrog steps per HMC transition. step_size: the initial HMC step size.
    target_accept_prob: the step-size adaptation's target. adapt_step_size / adapt_mass_matrix:
    adapt during warmup (a diagonal mass). init_strategy: "uniform" (continuous sites uniform on
    (-2, 2) unconstrained, discrete ones from the prior) or "prior". max_support_size: the
    largest support drawn from its exact conditional (that many model evaluations per element
    and sweep); larger ones take Metropolis steps. modified: Liu's modified Gibbs draw (never
    the current value, Metropolis-corrected) for the exact updates. gibbs_fn, gibbs_sites: a
    function ``(key, gibbs_sites, hmc_sites) -> {site: new value}`` that updates the sites
    named in ``gibbs_sites`` (continuous or discrete) itself, as NumPyro's ``HMCGibbs``; it gets
    the backend's key and constrained values, and must draw from those sites' conditional.
    """

    num_warmup: int = 1000
    num_samples: int = 1000
    num_chains: int = 1
    thinning: int = 1
    num_steps: int = 10
    step_size: float = 0.1
    target_accept_prob: float = 0.8
    adapt_step_size: bool = True
    adapt_mass_matrix: bool = True
    init_strategy: str = "uniform"
    max_support_size: int = 128
    modified: bool = False
    gibbs_fn: Callable | None = None
    gibbs_sites: tuple = ()

    def __post_init__(self):
        check_field_types(self)
        check_at_least(
            self,
            num_warmup=0,
            num_samples=1,
            num_chains=1,
            thinning=1,
            num_steps=1,
            max_support_size=2,
        )
        check_positive(self, "step_size")
        if not 0 < self.target_accept_prob < 1:
            raise OptionError(
                f"target_accept_prob must lie in (0, 1), got {self.target_accept_prob}."
            )
        if self.init_strategy not in INIT_STRATEGIES:
            raise OptionError(
                f"Unknown init_strategy {self.init_strategy!r}; use one of {INIT_STRATEGIES}."
                + did_you_mean(self.init_strategy, INIT_STRATEGIES)
            )
        sites = self.gibbs_sites
        if isinstance(sites, str) or not (
            isinstance(sites, (list, tuple)) and all(isinstance(s, str) for s in sites)
        ):
            raise OptionError(
                f"gibbs_sites must be a sequence of site names, got {sites!r}: e.g. ('tau',)."
            )
        object.__setattr__(self, "gibbs_sites", tuple(sites))
        if (self.gibbs_fn is None) != (not self.gibbs_sites):
            raise OptionError(
                "Pass gibbs_fn and gibbs_sites together: gibbs_fn(key, gibbs_sites, hmc_sites) "
                "returns new values of the sites named in gibbs_sites."
            )
        if self.gibbs_fn is not None and not callable(self.gibbs_fn):
            raise OptionError(f"gibbs_fn must be a function, got {self.gibbs_fn!r}.")


class GibbsState(NamedTuple):
    """position: the flat point (continuous, then discrete values). count: steps taken.
    adaptation: the HMC block's ``hmc.Adaptation``."""

    position: Any
    count: Any
    adaptation: hmc.Adaptation


class GibbsInfo(NamedTuple):
    """Per step: the HMC block's acceptance probability, divergence and step size, and the mean
    acceptance probability of the discrete updates (1 for exact draws); ``None`` where that
    block is empty."""

    accept_prob: Any = None
    diverging: Any = None
    step_size: Any = None
    discrete_accept_prob: Any = None


def _coordinates(problem, sites) -> np.ndarray:
    """The flat indices of ``sites`` in ``z``, in layout order."""
    start, out = 0, []
    for name, size in zip(problem.layout.names, problem.layout.sizes):
        if name in sites:
            out.extend(range(start, start + size))
        start += size
    return np.asarray(out, dtype=np.int64)


def _check_sites(problem, options) -> None:
    unknown = [s for s in options.gibbs_sites if s not in problem.layout.names]
    if unknown:
        raise OptionError(
            f"gibbs_sites names {unknown[0]!r}, which is not a latent site of the model."
            + did_you_mean(unknown[0], problem.layout.names)
            + f" Its latent sites: {', '.join(problem.layout.names)}."
        )


def build(problem, options: Options) -> Algorithm:
    """The ``gibbs`` ``Algorithm`` on ``problem`` (built with ``discrete=True``)."""
    _check_sites(problem, options)
    arrays, xp = problem.arrays, problem.arrays.xp
    blocks = discrete.plan(problem, options.gibbs_sites, options.max_support_size)
    continuous = [n for n in problem.layout.names if n not in problem.discrete]
    hmc_sites = [n for n in continuous if n not in options.gibbs_sites]
    hmc_np = _coordinates(problem, hmc_sites)
    rest_np = np.setdiff1d(np.arange(problem.dim), hmc_np)
    hmc_index, rest_index = arrays.asarray(hmc_np), arrays.asarray(rest_np)
    inverse = arrays.asarray(np.argsort(np.concatenate([hmc_np, rest_np])))
    schedule = hmc.Schedule.of(
        options.num_warmup,
        options.adapt_step_size,
        options.adapt_mass_matrix,
        options.target_accept_prob,
    )
    vectorised = problem.backend.supports_vmap_of_models

    def assemble(q, rest):  # the flat point from the HMC block and the others' coordinates
        return xp.take(xp.concat([q, rest]), inverse, axis=0)

    def user_update(z, key):
        values = problem.constrain_one(z)
        latent = {name: values[name] for name in problem.layout.names}
        given = {name: latent[name] for name in options.gibbs_sites}
        others = {k: v for k, v in latent.items() if k not in options.gibbs_sites}
        new = options.gibbs_fn(key, given, others)
        return problem.unconstrain({**latent, **{name: new[name] for name in given}})

    def init(key):
        from ..optimize import compiled_value_and_grad

        check = compiled_value_and_grad(problem)  # one program, not the model op by op
        z = problem.init(key, options.init_strategy, value_and_grad=check)
        adaptation = hmc.init_adaptation(xp, len(hmc_np), options.step_size, z.dtype)
        return GibbsState(position=z, count=xp.asarray(0), adaptation=adaptation)

    def step(state, key):
        user_key, discrete_key, hmc_key = arrays.split(key, 3)
        z, info = state.position, GibbsInfo()
        if options.gibbs_fn is not None:
            z = user_update(z, user_key)
        if blocks:
            z, rate = discrete.sweep(
                arrays, problem.potential, z, discrete_key, blocks, options.modified, vectorised
            )
            info = info._replace(discrete_accept_prob=rate)
        adaptation = state.adaptation
        if len(hmc_np):
            rest = xp.take(z, rest_index, axis=0)
            value_and_grad = arrays.value_and_grad(lambda q: problem.potential(assemble(q, rest)))
            step_size = hmc.step_size_of(xp, adaptation, state.count, schedule)
            q, accept_prob, diverging = hmc.trajectory(
                arrays,
                value_and_grad,
                xp.take(z, hmc_index, axis=0),
                hmc_key,
                step_size,
                adaptation.inv_mass,
                options.num_steps,
            )
            adaptation = hmc.adapt(xp, adaptation, state.count, q, accept_prob, schedule)
            z = assemble(q, rest)
            info = info._replace(accept_prob=accept_prob, diverging=diverging, step_size=step_size)
        return GibbsState(z, state.count + 1, adaptation), info

    return Algorithm(init=init, step=step, capabilities=CAPABILITIES)
