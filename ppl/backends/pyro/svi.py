"""Pyro's own SVI (``pyro.infer.SVI`` with its autoguides and ELBOs) for a model."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import pyro
import pyro.infer
import pyro.optim
import torch
from pyro.distributions.transforms import block_autoregressive, iterated
from pyro.infer import SVI, Predictive, autoguide
from pyro.infer.autoguide.initialization import init_to_median, init_to_value

from ...core import GUIDE_CLASSES, SCALED_GUIDES, loss_function, objective_spec
from . import keys, objectives

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
    if loss_function(options) is not None:
        return objectives.LogWeightObjective(options)
    name, kwargs = objective_spec(options)
    return getattr(pyro.infer, name)(**kwargs)


def _guide(name, model, init_loc, init_scale):
    if name == "bnaf":  # Pyro has no AutoBNAFNormal: the same flow through AutoNormalizingFlow
        flow = functools.partial(iterated, 1, block_autoregressive)
        return autoguide.AutoNormalizingFlow(model, flow)
    extra = {"init_scale": init_scale} if name in SCALED_GUIDES else {}
    return getattr(autoguide, GUIDE_CLASSES[name])(model, init_loc_fn=init_loc, **extra)


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
            self.guide = _guide(options.guide, self.model, init_loc, self.init_scale)
        self.loss_class = objective(options)
        self.svi = SVI(self.model, self.guide, _optimizer(options), self.loss_class)
        with keys.global_seed(key):
            self.guide(*self.args, **self.kwargs)  # creates the parameters
        return SVIState(0)

    def step(self, state, key):
        with keys.global_seed(key):
            loss = self.svi.step(*self.args, **self.kwargs)
        return SVIState(state.step + 1), SVIInfo(torch.tensor(loss))

    def loss_and_grads(self, state, key):
        """The loss (negative ELBO estimate) at ``state`` with the noise of ``key``, and its
        gradient in each unconstrained parameter (what the optimizer is given)."""
        unconstrained = dict(pyro.get_param_store().named_parameters())
        for leaf in unconstrained.values():
            leaf.grad = None
        with keys.global_seed(key), torch.enable_grad():
            # every Pyro ELBO has loss_and_grads (TraceGraph_ELBO has no differentiable_loss)
            loss = self.loss_class.loss_and_grads(self.model, self.guide, *self.args, **self.kwargs)
        grads = {
            name: torch.zeros_like(leaf) if leaf.grad is None else leaf.grad.detach().clone()
            for name, leaf in unconstrained.items()
        }
        for leaf in unconstrained.values():
            leaf.grad = None
        return torch.tensor(loss), grads

    def sample(self, state, key, num_samples):
        with keys.global_seed(key), torch.no_grad():
            return Predictive(self.guide, num_samples=num_samples)(*self.args, **self.kwargs)

    def weighted_sample(self, state, key, num_samples):
        """Guide draws ``{site: (num_samples, ...)}`` and their importance log-weights."""
        with keys.global_seed(key), torch.no_grad():
            lw, values, _ = objectives.log_weights(
                self.model, self.guide, self.args, self.kwargs, num_samples
            )
        return values, lw
