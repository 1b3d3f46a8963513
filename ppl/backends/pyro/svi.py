"""Pyro's own SVI (``pyro.infer.SVI`` with its autoguides and ELBOs) over a ``Problem``."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import pyro
import pyro.optim
import torch
from pyro.distributions.transforms import block_autoregressive, iterated
from pyro.infer import (
    SVI,
    Predictive,
    RenyiELBO,
    Trace_ELBO,
    TraceGraph_ELBO,
    TraceMeanField_ELBO,
    autoguide,
)
from pyro.infer.autoguide.initialization import init_to_median, init_to_value

from . import keys

GUIDES = {
    "normal": autoguide.AutoNormal,
    "mvn": autoguide.AutoMultivariateNormal,
    "lowrank": autoguide.AutoLowRankMultivariateNormal,
    "delta": autoguide.AutoDelta,
    "laplace": autoguide.AutoLaplaceApproximation,
    "iaf": autoguide.AutoIAFNormal,
    "bnaf": lambda model, init_loc_fn: autoguide.AutoNormalizingFlow(
        model, functools.partial(iterated, 1, block_autoregressive)
    ),
}
OPTIMIZERS = {
    "adam": pyro.optim.Adam,
    "sgd": pyro.optim.SGD,
    "rmsprop": pyro.optim.RMSprop,
    "adagrad": pyro.optim.Adagrad,
}


class SVIInfo(NamedTuple):
    loss: Any


class SVIState(NamedTuple):
    step: int


def _objective(options):
    n = options.num_particles
    return {
        "elbo": lambda: Trace_ELBO(num_particles=n),
        "meanfield_elbo": lambda: TraceMeanField_ELBO(num_particles=n),
        "tracegraph_elbo": lambda: TraceGraph_ELBO(num_particles=n),
        "renyi": lambda: RenyiELBO(alpha=options.alpha, num_particles=max(n, 2)),
        "iwae": lambda: RenyiELBO(alpha=0.0, num_particles=max(n, 2)),
    }[options.objective]()


class Runner:
    """``init``/``step``/``sample`` of one SVI configuration. Pyro keeps parameters in its global
    param store, which ``init`` clears, as Pyro scripts do before a fit."""

    def __init__(self, problem, options):
        self.problem, self.options = problem, options

    def init(self, key, start):
        pyro.clear_param_store()
        options, model = self.options, self.problem.model
        if callable(options.guide):
            self.guide = options.guide
        else:
            init_loc = init_to_value(values=dict(start or {}), fallback=init_to_median)
            self.guide = GUIDES[options.guide](model, init_loc_fn=init_loc)
        optim = OPTIMIZERS[options.optimizer]({"lr": options.lr})
        self.svi = SVI(model, self.guide, optim, _objective(options))
        with keys.global_seed(key):
            self.guide(*self.problem.args, **self.problem.kwargs)  # creates the parameters
        return SVIState(0)

    def step(self, state, key):
        with keys.global_seed(key):
            loss = self.svi.step(*self.problem.args, **self.problem.kwargs)
        return SVIState(state.step + 1), SVIInfo(torch.tensor(loss))

    def sample(self, state, key, num_samples):
        with keys.global_seed(key), torch.no_grad():
            draws = Predictive(self.guide, num_samples=num_samples)(
                *self.problem.args, **self.problem.kwargs
            )
        values = {n: draws[n] for n in self.problem.layout.names}
        return self.problem.unconstrain(values, batch_ndim=1)


def svi_runner(problem, options) -> Runner:
    return Runner(problem, options)
