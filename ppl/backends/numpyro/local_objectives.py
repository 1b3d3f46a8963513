"""Per-data-point objectives (``iwae``, ``renyi``, ``chi2``) for local latent sites on NumPyro:
``(K, B)`` log-weights, particles by the minibatch's data points, all particles on the same
minibatch (the guide's plate indices replayed), vectorized with ``jax.vmap``."""

from __future__ import annotations

import jax
import numpy as np
from numpyro import handlers
from numpyro.infer.elbo import ELBO

from ...core.local_vi import chi2_model_loss, local_loss, local_particles, plate_log_density

__all__ = ["LocalObjective", "held_out_log_weights", "local_log_densities", "local_log_weights"]


def _per_item(tr, plate):
    """The per-data-point log-density over ``plate`` of ``tr``'s sample sites."""
    sites = ((name, site) for name, site in tr.items() if site["type"] == "sample")
    return plate_log_density(sites, plate)


def local_log_densities(key, params, model, guide, args, kwargs, num, plate, score=False):
    """``((K, B) model log-densities, (K, B) guide log-densities, model parameter names)`` of
    ``num`` particles on one minibatch. ``score``: draws held fixed (the gradient is the score
    function's)."""
    plate_key, key = jax.random.split(key)
    guide = handlers.substitute(guide, data=params)
    first = handlers.trace(handlers.seed(guide, plate_key)).get_trace(*args, **kwargs)
    plates = {n: s for n, s in first.items() if s["type"] == "plate"}
    model = handlers.substitute(model, data=params)
    names = []

    def one(k):
        guide_key, model_key = jax.random.split(k)
        seeded = handlers.seed(handlers.replay(guide, trace=plates), guide_key)
        guide_trace = handlers.trace(seeded).get_trace(*args, **kwargs)
        if score:
            fixed = {
                n: {**s, "value": jax.lax.stop_gradient(s["value"])} for n, s in guide_trace.items()
            }
            guide_trace = handlers.trace(handlers.replay(seeded, trace=fixed)).get_trace(
                *args, **kwargs
            )
        replayed = handlers.seed(handlers.replay(model, trace=guide_trace), model_key)
        model_trace = handlers.trace(replayed).get_trace(*args, **kwargs)
        names[:] = [n for n, s in model_trace.items() if s["type"] == "param"]
        return _per_item(model_trace, plate), _per_item(guide_trace, plate)

    log_p, log_q = jax.vmap(one)(jax.random.split(key, num))
    return log_p, log_q, names


def local_log_weights(key, params, model, guide, args, kwargs, num, plate, score=False):
    """``((K, B) log-weights, model parameter names)``: ``local_log_densities``' difference."""
    log_p, log_q, names = local_log_densities(
        key, params, model, guide, args, kwargs, num, plate, score
    )
    return log_p - log_q, names


class LocalObjective(ELBO):
    """NumPyro's ``ELBO`` interface over a per-data-point objective: ``N / B`` times its sum
    over the minibatch (``ppl.core.local_vi``); ``chi2`` with model parameters trains them by
    the IWAE bound of the same draws (``chi2_model_loss``)."""

    def __init__(self, options, plate: str, size: int):
        super().__init__(num_particles=local_particles(options))
        self.options, self.plate, self.size = options, plate, size

    def loss_with_mutable_state(self, rng_key, param_map, model, guide, *args, **kwargs):
        options = self.options
        chi2 = options.objective == "chi2"
        log_p, log_q, model_params = local_log_densities(
            rng_key, param_map, model, guide, args, kwargs, self.num_particles, self.plate, chi2
        )
        scale = self.size / log_p.shape[1]
        if chi2 and model_params:
            loss = chi2_model_loss(log_p, log_q, scale, jax.lax.stop_gradient)
        else:
            loss = local_loss(options.objective, log_p - log_q, options.alpha, scale)
        return {"loss": loss, "mutable_state": None}


def held_out_log_weights(model, guide, params, args, kwargs, num, plate, seed, chunk=100):
    """``local_log_weights`` of ``num`` draws on the whole of ``plate`` at fixed ``params``
    (numpy ``(num, B)``), ``chunk`` draws per compiled call."""
    params = {k: jax.numpy.asarray(v) for k, v in params.items()}

    @jax.jit
    def weights(key):
        return local_log_weights(key, params, model, guide, args, kwargs, chunk, plate)[0]

    keys = jax.random.split(jax.random.PRNGKey(seed), -(-num // chunk))
    return np.concatenate([np.asarray(weights(k)) for k in keys])[:num]
