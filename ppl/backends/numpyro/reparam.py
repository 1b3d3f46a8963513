"""NumPyro's half of ``ppl.reparam``: the distribution that hands a score-function term to
NumPyro's ``TraceGraph_ELBO`` as a surrogate with ``stop_gradient``."""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax
from numpyro.distributions import Distribution, constraints

__all__ = ["ScoreDelta"]


class ScoreDelta(Distribution):
    """A point mass at ``value`` (drawn without gradient) that is not reparameterized, whose
    ``log_prob(x)`` is ``score_fn(x)``: a surrogate (``log pi - stop_gradient(log pi)``, summed
    over the event axes) whose value is zero and whose gradient is a score.

    NumPyro's ``TraceGraph_ELBO`` adds, for a site without ``rsample``,
    ``log_prob * stop_gradient(downstream cost)`` and stops the gradient of the site's own
    ``log_prob`` in the ELBO, so only the score term ``stop_gradient(f) * d score_fn`` reaches
    the gradient. (``Trace_ELBO`` has no score-function terms: it would drop it.)
    """

    arg_constraints: dict = {}
    reparametrized_params: list = []

    def __init__(self, value, score_fn, event_dim: int = 0):
        batch_shape = jnp.shape(value)[: jnp.ndim(value) - event_dim]
        event_shape = jnp.shape(value)[jnp.ndim(value) - event_dim :]
        self.v = lax.stop_gradient(value)
        self.score_fn = score_fn
        super().__init__(batch_shape, event_shape, validate_args=False)

    @property
    def has_rsample(self) -> bool:
        # NumPyro's default (reparametrized_params == arg_constraints) is True for no params
        return False

    @property
    def support(self):
        return constraints.independent(constraints.real, len(self.event_shape))

    def sample(self, key, sample_shape=()):
        return jnp.broadcast_to(self.v, tuple(sample_shape) + jnp.shape(self.v))

    def log_prob(self, value):
        shape = jnp.shape(value)[: jnp.ndim(value) - len(self.event_shape)]
        return jnp.broadcast_to(self.score_fn(value), shape)
