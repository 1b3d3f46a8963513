"""Pyro's own SVI (``pyro.infer.SVI`` with its autoguides and ELBOs) for a model."""

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
SCALED = ("normal", "mvn", "lowrank")
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


def objective(options):
    n = options.num_particles
    return {
        "elbo": lambda: Trace_ELBO(num_particles=n),
        "meanfield_elbo": lambda: TraceMeanField_ELBO(num_particles=n),
        "tracegraph_elbo": lambda: TraceGraph_ELBO(num_particles=n),
        "renyi": lambda: RenyiELBO(alpha=options.alpha, num_particles=max(n, 2)),
        "iwae": lambda: RenyiELBO(alpha=0.0, num_particles=max(n, 2)),
    }[options.objective]()


def _optimizer(options):
    if options.optimizer == "adam" and options.lr_decay < 1:
        decay = options.lr_decay ** (1.0 / max(options.num_steps, 1))
        return pyro.optim.ClippedAdam({"lr": options.lr, "lrd": decay})
    return OPTIMIZERS[options.optimizer]({"lr": options.lr})


class Runner:
    """``init``/``step``/``sample`` of native SVI on ``model(*args, **kwargs)``. Pyro keeps
    parameters in its global param store, which ``init`` clears, as Pyro scripts do."""

    def __init__(self, model, args, kwargs, options, init_scale):
        self.model, self.args, self.kwargs = model, args, kwargs
        self.options, self.init_scale = options, init_scale

    def init(self, key, start):
        pyro.clear_param_store()
        options = self.options
        if callable(options.guide):
            self.guide = options.guide
        else:
            init_loc = init_to_value(values=dict(start or {}), fallback=init_to_median)
            extra = {"init_scale": self.init_scale} if options.guide in SCALED else {}
            self.guide = GUIDES[options.guide](self.model, init_loc_fn=init_loc, **extra)
        self.svi = SVI(self.model, self.guide, _optimizer(options), objective(options))
        with keys.global_seed(key):
            self.guide(*self.args, **self.kwargs)  # creates the parameters
        return SVIState(0)

    def step(self, state, key):
        with keys.global_seed(key):
            loss = self.svi.step(*self.args, **self.kwargs)
        return SVIState(state.step + 1), SVIInfo(torch.tensor(loss))

    def sample(self, state, key, num_samples):
        with keys.global_seed(key), torch.no_grad():
            return Predictive(self.guide, num_samples=num_samples)(*self.args, **self.kwargs)
