"""Per-data-point objectives (``iwae``, ``renyi``, ``chi2``) for local latent sites on Pyro:
``(K, B)`` log-weights, particles by the minibatch's data points, all particles on the same
minibatch (the guide's subsample sites replayed), one trace per particle."""

from __future__ import annotations

import warnings

import numpy as np
import pyro
import torch
from pyro import poutine
from pyro.poutine.subsample_messenger import _Subsample

from ...core import vi
from ...core.local_vi import local_loss, local_particles, plate_log_density
from . import keys

__all__ = ["LocalObjective", "held_out_log_weights", "local_log_weights"]


def _per_item(tr, plate):
    """The per-data-point log-density over ``plate`` of ``tr``'s sample sites."""
    sites = (
        (name, site)
        for name, site in tr.nodes.items()
        if site["type"] == "sample" and not isinstance(site["fn"], _Subsample)
    )
    return plate_log_density(sites, plate)


def local_log_weights(model, guide, args, kwargs, num, plate, score=False):
    """``((K, B) log-weights, model parameter names)`` of ``num`` particles on one minibatch.
    ``score``: draws held fixed (the gradient is the score function's)."""
    with torch.no_grad():
        first = poutine.trace(guide).get_trace(*args, **kwargs)
    plates = poutine.Trace()
    for name, site in first.nodes.items():
        if site["type"] == "sample" and isinstance(site["fn"], _Subsample):
            plates.add_node(name, **site)
    guide = poutine.replay(guide, trace=plates)
    weights, names = [], []
    for _ in range(num):
        if score:
            with torch.no_grad():
                drawn = poutine.trace(guide).get_trace(*args, **kwargs)
            guide_trace = poutine.trace(poutine.replay(guide, trace=drawn)).get_trace(
                *args, **kwargs
            )
        else:
            guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
        replayed = poutine.replay(model, trace=guide_trace)
        model_trace = poutine.trace(replayed).get_trace(*args, **kwargs)
        names = [n for n, s in model_trace.nodes.items() if s["type"] == "param"]
        weights.append(_per_item(model_trace, plate) - _per_item(guide_trace, plate))
    return torch.stack(weights), names


class LocalObjective:
    """The loss callable ``pyro.infer.SVI`` takes, over a per-data-point objective: ``N / B``
    times its sum over the minibatch (``ppl.core.local_vi``)."""

    def __init__(self, options, plate: str, size: int):
        self.options, self.plate, self.size = options, plate, size
        self.num_particles = local_particles(options)

    def __call__(self, model, guide, *args, **kwargs):
        options = self.options
        lw, model_params = local_log_weights(
            model,
            guide,
            args,
            kwargs,
            self.num_particles,
            self.plate,
            options.objective == "chi2",
        )
        vi.check_model_params(options, model_params)
        return local_loss(options.objective, lw, options.alpha, self.size / lw.shape[1])


def held_out_log_weights(model, guide, params, args, kwargs, num, plate, seed, chunk=100):
    """``local_log_weights`` of ``num`` draws on the whole of ``plate`` at fixed ``params``
    (numpy ``(num, B)``), in a fresh parameter store (nothing of it leaks out)."""
    params = {k: torch.as_tensor(np.asarray(v)) for k, v in params.items()}
    model = poutine.substitute(model, data=params)
    guide = poutine.substitute(guide, data=params)
    with pyro.get_param_store().scope(), keys.global_seed(keys.key(seed)), torch.no_grad():
        with warnings.catch_warnings():  # the guide's parameters are not the model's: both
            warnings.filterwarnings("ignore", "pyro.module data did not find params")
            lw, _ = local_log_weights(model, guide, args, kwargs, num, plate)
    return lw.numpy()
