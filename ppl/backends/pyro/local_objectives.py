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

from ...core.local_vi import chi2_model_loss, local_loss, local_particles, plate_log_density
from . import keys

__all__ = ["LocalObjective", "held_out_log_weights", "local_log_densities", "local_log_weights"]


def _per_item(tr, plate):
    """The per-data-point log-density over ``plate`` of ``tr``'s sample sites."""
    sites = (
        (name, site)
        for name, site in tr.nodes.items()
        if site["type"] == "sample" and not isinstance(site["fn"], _Subsample)
    )
    return plate_log_density(sites, plate)


def local_log_densities(model, guide, args, kwargs, num, plate, score=False):
    """``((K, B) model log-densities, (K, B) guide log-densities, model parameter names)`` of
    ``num`` particles on one minibatch. ``score``: draws held fixed (the gradient is the score
    function's)."""
    with torch.no_grad():
        first = poutine.trace(guide).get_trace(*args, **kwargs)
    plates = poutine.Trace()
    for name, site in first.nodes.items():
        if site["type"] == "sample" and isinstance(site["fn"], _Subsample):
            plates.add_node(name, **site)
    guide = poutine.replay(guide, trace=plates)
    log_p, log_q, names = [], [], []
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
        log_p.append(_per_item(model_trace, plate))
        log_q.append(_per_item(guide_trace, plate))
    return torch.stack(log_p), torch.stack(log_q), names


def local_log_weights(model, guide, args, kwargs, num, plate, score=False):
    """``((K, B) log-weights, model parameter names)``: ``local_log_densities``' difference."""
    log_p, log_q, names = local_log_densities(model, guide, args, kwargs, num, plate, score)
    return log_p - log_q, names


class LocalObjective:
    """The loss callable ``pyro.infer.SVI`` takes, over a per-data-point objective: ``N / B``
    times its sum over the minibatch (``ppl.core.local_vi``); ``chi2`` with model parameters
    trains them by the IWAE bound of the same draws (``chi2_model_loss``)."""

    def __init__(self, options, plate: str, size: int):
        self.options, self.plate, self.size = options, plate, size
        self.num_particles = local_particles(options)

    def __call__(self, model, guide, *args, **kwargs):
        options = self.options
        chi2 = options.objective == "chi2"
        log_p, log_q, model_params = local_log_densities(
            model, guide, args, kwargs, self.num_particles, self.plate, chi2
        )
        scale = self.size / log_p.shape[1]
        if chi2 and model_params:
            return chi2_model_loss(log_p, log_q, scale, torch.Tensor.detach)
        return local_loss(options.objective, log_p - log_q, options.alpha, scale)


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
