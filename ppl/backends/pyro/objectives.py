"""Log-weight objectives on Pyro: ``log p(x, z_i) - log q(z_i)`` for reparameterized guide
draws, through Pyro's own poutine (trace the guide, replay the model against it), and the
loss that ``pyro.infer.SVI`` differentiates."""

from __future__ import annotations

import torch
from pyro import poutine

from ...core import vi
from ...errors import OptionError

__all__ = ["log_weights", "LogWeightObjective"]


def _one_log_weight(model, guide, args, kwargs, score):
    if score:  # the draw held fixed: gradients are those of log q(z) at z (score function)
        with torch.no_grad():
            drawn = poutine.trace(guide).get_trace(*args, **kwargs)
        guide = poutine.replay(guide, trace=drawn)
    guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
    try:
        guide_trace.log_prob_sum()
    except NotImplementedError as e:
        raise OptionError(
            "objective='chi2' evaluates log q at a given draw, which this guide cannot (its "
            f"transform has no inverse: {e!r}); use a Gaussian guide or 'iaf'."
        ) from None
    for name, site in guide_trace.nodes.items():
        sample = site["type"] == "sample" and not site["is_observed"]
        if sample and not score and not site["fn"].has_rsample:
            raise OptionError(
                f"The guide's site {name!r} is not reparameterizable; log-weight objectives "
                "differentiate through the draws. Use objective='tracegraph_elbo'."
            )
    replayed = poutine.replay(model, trace=guide_trace)
    model_trace = poutine.trace(replayed).get_trace(*args, **kwargs)
    log_weight = model_trace.log_prob_sum() - guide_trace.log_prob_sum()
    model_params = [n for n, s in model_trace.nodes.items() if s["type"] == "param"]
    values = {n: s["value"] for n, s in guide_trace.nodes.items() if s["type"] == "sample"}
    return torch.as_tensor(log_weight), values, model_params


def log_weights(model, guide, args, kwargs, num, score=False):
    """``(log_weights, values, model_param_names)`` of ``num`` guide draws (one trace each, so
    any model works): ``log_weights`` has shape ``(num,)``, ``values`` maps each guide sample
    site to its ``(num, ...)`` draws. ``score``: the draws are held fixed, so the log-weights'
    gradient is ``-grad log q(z_i)`` (the score function) rather than the pathwise one."""
    draws = [_one_log_weight(model, guide, args, kwargs, score) for _ in range(num)]
    lw = torch.stack([d[0] for d in draws])
    values = {name: torch.stack([d[1][name] for d in draws]) for name in draws[0][1]}
    return lw, values, draws[0][2]


class LogWeightObjective:
    """The loss callable ``pyro.infer.SVI`` takes, over ``options``' log-weight objective
    (``chi2`` or the user's function) with ``num_particles`` draws per step."""

    def __init__(self, options):
        self.options = options
        self.num_particles = vi.num_particles(options)
        self.fn = vi.loss_function(options)
        self.score = vi.score_function(options)

    def __call__(self, model, guide, *args, **kwargs):
        lw, _, model_params = log_weights(
            model, guide, args, kwargs, self.num_particles, self.score
        )
        vi.check_model_params(self.options, model_params)
        return vi.evaluate(self.fn, lw)
