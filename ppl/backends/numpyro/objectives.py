"""Log-weight objectives on NumPyro: ``log p(x, z_i) - log q(z_i)`` for reparameterized guide
draws, through NumPyro's own handlers, and the ELBO class that hands them to the objective."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from numpyro import handlers
from numpyro.infer.elbo import ELBO
from numpyro.infer.util import log_density

from ...core import vi
from ...errors import OptionError

__all__ = ["log_weights", "LogWeightObjective"]


def _one_log_weight(key, params, model, guide, args, kwargs, score):
    guide_key, model_key = jax.random.split(key)
    seeded_guide = handlers.seed(guide, guide_key)
    if score:  # the draw held fixed: gradients are those of log q(z) at z (score function)
        fixed = jax.lax.stop_gradient(params)
        _, drawn = log_density(seeded_guide, args, kwargs, fixed)
        drawn = {n: {**s, "value": jax.lax.stop_gradient(s["value"])} for n, s in drawn.items()}
        seeded_guide = handlers.replay(seeded_guide, drawn)
    try:
        log_q, guide_trace = log_density(seeded_guide, args, kwargs, params)
    except NotImplementedError as e:
        raise OptionError(
            "objective='chi2' evaluates log q at a given draw, which this guide cannot (its "
            f"transform has no inverse: {e!r}); use a Gaussian guide or 'iaf'."
        ) from None
    for name, site in guide_trace.items():
        sample = site["type"] == "sample" and not site["is_observed"]
        if sample and not score and not site["fn"].has_rsample:
            raise OptionError(
                f"The guide's site {name!r} is not reparameterizable; log-weight objectives "
                "differentiate through the draws. Use objective='tracegraph_elbo'."
            )
    replayed = handlers.seed(handlers.replay(model, guide_trace), model_key)
    log_p, model_trace = log_density(replayed, args, kwargs, params)
    model_params = [n for n, s in model_trace.items() if s["type"] == "param"]
    values = {n: s["value"] for n, s in guide_trace.items() if s["type"] == "sample"}
    return log_p - log_q, values, model_params


def log_weights(key, params, model, guide, args, kwargs, num, score=False):
    """``(log_weights, values, model_param_names)`` of ``num`` guide draws: ``log_weights`` has
    shape ``(num,)``, ``values`` maps each guide sample site to its ``(num, ...)`` draws.
    ``score``: the draws are held fixed, so the log-weights' gradient is ``-grad log q(z_i)``
    (the score function) rather than the pathwise one."""
    # one draw outside vmap reads the model's parameter names (static Python values)
    _, _, model_params = _one_log_weight(key, params, model, guide, args, kwargs, score)

    def one(k):
        lw, values, _ = _one_log_weight(k, params, model, guide, args, kwargs, score)
        return lw, values

    lw, values = jax.vmap(one)(jax.random.split(key, num))
    return lw, values, model_params


class LogWeightObjective(ELBO):
    """NumPyro's ``ELBO`` interface over ``options``' log-weight objective (``chi2`` or the
    user's function) with ``num_particles`` draws per step."""

    def __init__(self, options):
        super().__init__(num_particles=vi.num_particles(options))
        self.options = options
        self.fn = vi.loss_function(options)
        self.score = vi.score_function(options)

    def loss_with_mutable_state(self, rng_key, param_map, model, guide, *args, **kwargs):
        lw, _, model_params = log_weights(
            rng_key, param_map, model, guide, args, kwargs, self.num_particles, self.score
        )
        vi.check_model_params(self.options, model_params)
        loss = vi.evaluate(self.fn, lw)
        return {"loss": jnp.asarray(loss), "mutable_state": None}
