"""Pyro's half of ``ppl.reparam``: the distribution that hands a score-function term to Pyro's
ELBOs through ``score_parts``."""

from __future__ import annotations

import torch
from pyro.distributions import TorchDistribution, constraints
from pyro.distributions.score_parts import ScoreParts

__all__ = ["ScoreDelta"]


class ScoreDelta(TorchDistribution):
    """A point mass at ``value`` (drawn without gradient) that is not reparameterized, whose
    ``log_prob(x)`` is ``score_fn(x)``: a surrogate (``log pi - stop_gradient(log pi)``, summed
    over the event axes) whose value is zero and whose gradient is a score.

    Pyro's ``Trace_ELBO`` and ``TraceGraph_ELBO`` multiply a site's ``score_function`` part by the
    detached ELBO integrand (``log p - log q`` of the sites downstream) and subtract its
    ``entropy_term``. Here the entropy term is zero: the site is auxiliary noise, not a factor of
    the guide's density, so only the score term ``stop_gradient(f) * d score_fn`` reaches the
    gradient.
    """

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, value, score_fn, event_dim: int = 0):
        batch_shape = value.shape[: value.dim() - event_dim]
        event_shape = value.shape[value.dim() - event_dim :]
        self.v = value.detach()
        self.score_fn = score_fn
        super().__init__(batch_shape, event_shape, validate_args=False)

    @property
    def support(self):
        return constraints.independent(constraints.real, len(self.event_shape))

    def sample(self, sample_shape=()):
        return self.v.expand(torch.Size(sample_shape) + self.v.shape)

    def log_prob(self, value):
        return self.score_fn(value).expand(value.shape[: value.dim() - len(self.event_shape)])

    def score_parts(self, value):
        log_prob = self.log_prob(value)
        return ScoreParts(log_prob=log_prob, score_function=log_prob, entropy_term=0)
