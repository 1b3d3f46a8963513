"""The Pyro backend: its probabilistic runtime, over the torch array layer ``TorchArrays``."""

from __future__ import annotations

import numpy as np
import pyro
import pyro.distributions as pyro_dist
import torch

from ..base import Backend
from . import keys
from .array import TorchArrays

__all__ = ["PyroBackend"]


def _param(name, init_value=None, **kwargs):
    if init_value is not None and not callable(init_value) and not torch.is_tensor(init_value):
        init_value = torch.as_tensor(init_value, dtype=torch.get_default_dtype())
    return pyro.param(name, init_value, **kwargs)


def _module(name, network, **kwargs):
    from .module import module

    return module(name, network, **kwargs)


class PyroBackend(Backend):
    """Pyro's primitives, poutine glue, NUTS/HMC and SVI; arrays from ``TorchArrays``."""

    name = "pyro"
    compiles_on_request = True
    dist = pyro_dist
    primitives = {
        "sample": pyro.sample,
        "param": _param,
        "plate": pyro.plate,
        "deterministic": pyro.deterministic,
        "factor": pyro.factor,
        "subsample": pyro.subsample,
        "markov": pyro.markov,
        "module": _module,
    }

    def __init__(self, arrays: TorchArrays | None = None):
        super().__init__(arrays or TorchArrays())

    def local_log_weights(self, model, guide, params, args, kwargs, num, plate, seed, chunk=100):
        from .local_objectives import held_out_log_weights

        return held_out_log_weights(model, guide, params, args, kwargs, num, plate, seed, chunk)

    def param_scope(self):
        return pyro.get_param_store().scope()

    # ---- native inference
    def hmc_kernel(self, problem, algo, options, value_and_grad=None):
        from .mcmc import hmc_kernel

        # the closures and the kernel workspace they share (which holds nothing between steps
        # that is not in the state); the algorithm's ``build`` calls this once per problem
        return hmc_kernel(problem, algo, options, value_and_grad)

    def batched_hmc_kernel(self, problem, algo, options):
        if algo != "NUTS":
            return super().batched_hmc_kernel(problem, algo, options)
        from .batched_nuts import batched_nuts_kernel

        # all chains' trees in lockstep over the vmapped potential (Pyro's kernel walks one)
        return batched_nuts_kernel(problem, options)

    def svi(
        self, model, args, kwargs, options, init_scale=0.1, local=None, parallel=None, plates=None
    ):
        from .svi import Runner

        return Runner(model, args, kwargs, options, init_scale, local, parallel, plates)

    def predictive(self, model, samples, args, kwargs, seed, num_samples=None):
        import pyro.poutine as poutine
        from pyro.infer import Predictive

        arrays = self.arrays
        num = len(next(iter(samples.values()))) if samples else num_samples
        tensors = {k: arrays.asarray(v) for k, v in samples.items()}
        with keys.global_seed(arrays.key(seed)):
            first = {k: v[0] for k, v in tensors.items()}
            sites = poutine.trace(poutine.condition(model, data=first)).get_trace(*args, **kwargs)
            names = [
                name
                for name, site in sites.nodes.items()
                if site["type"] == "sample"
                and name not in samples
                and not site["infer"].get("is_auxiliary", False)
            ]
            draws = Predictive(
                model, posterior_samples=tensors, num_samples=num, return_sites=names
            )(*args, **kwargs)
        # Pyro pads a site's shape to the model's plate nesting ((n, 1) for a scalar): one
        # draw's shape is the site's shape in the trace
        return {
            k: arrays.to_numpy(v).reshape((num, *sites.nodes[k]["value"].shape))
            for k, v in draws.items()
            if k in names
        }

    def log_likelihood(self, model, samples, args, kwargs):
        import pyro.poutine as poutine

        arrays = self.arrays
        num = len(next(iter(samples.values())))
        out: dict[str, list] = {}
        for i in range(num):
            values = {k: arrays.asarray(v[i]) for k, v in samples.items()}
            tr = poutine.trace(poutine.condition(model, data=values)).get_trace(*args, **kwargs)
            for name, site in tr.nodes.items():
                if site["type"] == "sample" and site["is_observed"] and name not in values:
                    log_p = site["fn"].log_prob(site["value"]).detach()
                    out.setdefault(name, []).append(arrays.to_numpy(log_p))
        return {k: np.stack(v) for k, v in out.items()}

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
        from .problem import build_problem

        return build_problem(
            self,
            model,
            args,
            kwargs,
            init_values,
            compile=compile,
            minibatch=minibatch,
            discrete=discrete,
            local_latents=local_latents,
        )
