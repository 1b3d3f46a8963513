"""The NumPyro backend: its probabilistic runtime, over the JAX array layer ``NumPyroArrays``."""

from __future__ import annotations

import numpy as np
import numpyro
import numpyro.distributions as numpyro_dist

from ...errors import HandlerError
from ..base import Backend
from .array import NumPyroArrays

__all__ = ["NumPyroBackend"]


def _sample(name, fn, obs=None, **kwargs):
    """``numpyro.sample``, with a ``HandlerError`` naming the fix where NumPyro fails on a
    missing random key (its bare ``AssertionError``)."""
    try:
        return numpyro.sample(name, fn, obs=obs, **kwargs)
    except AssertionError as err:
        if obs is not None or str(err):
            raise
        raise HandlerError(
            f"Sample site {name!r} has no random key: on the NumPyro backend, run the model "
            "under ppl.handlers.seed(model, rng_seed=0) (ppl.infer and Predictive do this)."
        ) from err


def _markov(fn=None, history=1, keep=False):
    """``numpyro.contrib.funsor.markov`` (imported on first use: it needs ``funsor``)."""
    from numpyro.contrib.funsor import markov

    return markov(fn, history=history, keep=keep)


def _predicted_sites(sites, samples) -> list[str]:
    """The sample and deterministic sites of a trace but ``samples``' and ``factor`` sites."""
    return [
        name
        for name, site in sites.items()
        if site["type"] in ("sample", "deterministic")
        and name not in samples
        and not site.get("infer", {}).get("is_auxiliary", False)
    ]


def _module(name, network, **kwargs):
    from .module import module

    return module(name, network, **kwargs)


class NumPyroBackend(Backend):
    """NumPyro's primitives, handlers, NUTS and SVI; arrays from ``NumPyroArrays``."""

    name = "numpyro"
    dist = numpyro_dist
    primitives = {
        "sample": _sample,
        "param": numpyro.param,
        "plate": numpyro.plate,
        "deterministic": numpyro.deterministic,
        "factor": numpyro.factor,
        "subsample": numpyro.subsample,
        "markov": _markov,
        "module": _module,
    }
    supports_vmap_of_models = True

    def __init__(self, arrays: NumPyroArrays | None = None):
        super().__init__(arrays or NumPyroArrays())

    # ---- native inference
    def hmc_kernel(self, problem, algo, options, value_and_grad=None):
        from .mcmc import hmc_kernel

        return hmc_kernel(problem, algo, options, value_and_grad)

    def svi(
        self, model, args, kwargs, options, init_scale=0.1, local=None, parallel=None, plates=None
    ):
        from .svi import Runner

        return Runner(model, args, kwargs, options, init_scale, local, parallel, plates)

    def local_log_weights(self, model, guide, params, args, kwargs, num, plate, seed, chunk=100):
        from .local_objectives import held_out_log_weights

        return held_out_log_weights(model, guide, params, args, kwargs, num, plate, seed, chunk)

    def predictive(self, model, samples, args, kwargs, seed, num_samples=None):
        from numpyro.handlers import seed as seeded
        from numpyro.handlers import substitute, trace
        from numpyro.infer import Predictive

        first = {k: v[0] for k, v in samples.items()}
        sites = trace(seeded(substitute(model, data=first), 0)).get_trace(*args, **kwargs)
        names = _predicted_sites(sites, samples)
        key = self.arrays.key(seed)
        draws = Predictive(
            model,
            posterior_samples=samples or None,
            num_samples=None if samples else num_samples,
            return_sites=names,
        )(key, *args, **kwargs)
        return {k: np.asarray(v) for k, v in draws.items()}

    def log_likelihood(self, model, samples, args, kwargs):
        from numpyro.infer.util import log_likelihood

        return {
            k: np.asarray(v) for k, v in log_likelihood(model, samples, *args, **kwargs).items()
        }

    # ---- models
    def _build_problem(
        self,
        model,
        args,
        kwargs,
        init_values,
        compile=False,
        minibatch=False,
        discrete=False,
        local_latents=False,
    ):
        from .problem import build_problem  # compile, minibatch: jit does both when first called

        return build_problem(
            self, model, args, kwargs, init_values, local_latents=local_latents, discrete=discrete
        )
