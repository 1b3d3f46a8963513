"""NumPyro's own SVI (``numpyro.infer.SVI`` with its autoguides and ELBOs) over a ``Problem``."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from numpyro.infer import (
    SVI,
    Predictive,
    RenyiELBO,
    Trace_ELBO,
    TraceGraph_ELBO,
    TraceMeanField_ELBO,
    autoguide,
)
from numpyro.infer.initialization import init_to_median, init_to_value
from numpyro.optim import optax_to_numpyro

from .backend import OPTIMIZERS

GUIDES = {
    "normal": autoguide.AutoNormal,
    "mvn": autoguide.AutoMultivariateNormal,
    "lowrank": autoguide.AutoLowRankMultivariateNormal,
    "delta": autoguide.AutoDelta,
    "laplace": autoguide.AutoLaplaceApproximation,
    "iaf": autoguide.AutoIAFNormal,
    "bnaf": autoguide.AutoBNAFNormal,
}


class SVIInfo(NamedTuple):
    loss: Any


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
    """``init``/``step``/``sample`` of one SVI configuration (cached per problem and options, so
    that ``step`` reuses the guide that ``init`` built)."""

    def __init__(self, problem, options):
        self.problem, self.start = problem, {}
        model = problem.model
        if callable(options.guide):
            self.guide = options.guide
        else:
            # init_to_value reads self.start, which init() fills with the MAP point
            init_loc = (
                functools.partial(init_to_value, values=self.start)
                if options.init == "map"
                else init_to_median
            )
            self.guide = GUIDES[options.guide](model, init_loc_fn=init_loc)
        optim = optax_to_numpyro(OPTIMIZERS[options.optimizer](options.lr))
        self.svi = SVI(model, self.guide, optim, _objective(options))

    def init(self, key, start):
        self.start.clear()
        self.start.update(start or {})
        return self.svi.init(key, *self.problem.args, **self.problem.kwargs)

    def step(self, state, key):
        state, loss = self.svi.update(state, *self.problem.args, **self.problem.kwargs)
        return state, SVIInfo(loss)

    def sample(self, state, key, num_samples):
        params = self.svi.get_params(state)
        predictive = Predictive(self.guide, params=params, num_samples=num_samples)
        draws = predictive(key, *self.problem.args, **self.problem.kwargs)
        values = {name: draws[name] for name in self.problem.layout.names}
        return self.problem.unconstrain(values, batch_ndim=1)


def svi_runner(problem, options) -> Runner:
    return Runner(problem, options)
