"""pyro-api's ``infer`` for the alias ``ppl-numpyro``: a stateful ``SVI`` (Pyro's ``step``),
the ELBOs with Pyro's constructor arguments, and ``MCMC``/``NUTS`` with Pyro's signatures, all
over ``numpyro.infer``."""

from __future__ import annotations

import jax
import numpyro
from numpyro import infer

from ...errors import OptionError
from . import pyroapi_store

#: Pyro's options that only concern torch (its JIT, multiprocessing, validation)
_TORCH_ONLY = {
    "NUTS": {
        "use_multinomial_sampling",
        "transforms",
        "max_plate_nesting",
        "jit_compile",
        "jit_options",
        "ignore_jit_warnings",
    },
    "MCMC": {"initial_params", "hook_fn", "mp_context", "disable_validation", "transforms"},
}


def _check_torch_only(name: str, options: dict) -> None:
    unknown = sorted(set(options) - _TORCH_ONLY[name])
    if unknown:
        raise OptionError(f"{name} on NumPyro has no option(s) {unknown}.")


__all__ = ["SVI", "Trace_ELBO", "JitTrace_ELBO", "TraceMeanField_ELBO", "MCMC", "NUTS"]


class SVI:
    """Pyro's stateful SVI: ``loss = svi.step(*args, **kwargs)``; the learned parameters go to
    ``pyro.get_param_store()``."""

    def __init__(self, model, guide, optim, loss, **kwargs):
        self._svi = infer.SVI(model, guide, optim, loss)
        self._update = jax.jit(self._svi.update)
        self.svi_state = None

    def step(self, *args, rng_key=None, **kwargs):
        if self.svi_state is None:
            rng_key = numpyro.prng_key() if rng_key is None else rng_key
            if rng_key is None:
                rng_key = jax.random.PRNGKey(0)
            self.svi_state = self._svi.init(rng_key, *args, **kwargs)
        self.svi_state, loss = self._update(self.svi_state, *args, **kwargs)
        pyroapi_store.get_param_store().update(self._svi.get_params(self.svi_state))
        return float(loss)

    def evaluate_loss(self, *args, **kwargs):
        return float(self._svi.evaluate(self.svi_state, *args, **kwargs))

    def get_params(self):
        return self._svi.get_params(self.svi_state)


def _elbo(cls):
    class ELBO(cls):
        __doc__ = (
            f"``{cls.__name__}`` with Pyro's constructor (JAX always compiles; the torch "
            "JIT options have nothing to do here)."
        )

        def __init__(
            self,
            num_particles=1,
            max_plate_nesting=float("inf"),
            vectorize_particles=False,
            ignore_jit_warnings=False,
            jit_options=None,
            retain_graph=None,
            strict_enumeration_warning=True,
        ):
            super().__init__(num_particles=num_particles)

    ELBO.__name__ = ELBO.__qualname__ = cls.__name__
    return ELBO


Trace_ELBO = _elbo(infer.Trace_ELBO)
JitTrace_ELBO = Trace_ELBO
TraceMeanField_ELBO = _elbo(infer.TraceMeanField_ELBO)


class NUTS(infer.NUTS):
    """``pyro.infer.NUTS(model, step_size=1, adapt_step_size=True, ...)`` over NumPyro's."""

    def __init__(
        self,
        model=None,
        step_size=1.0,
        adapt_step_size=True,
        adapt_mass_matrix=True,
        full_mass=False,
        target_accept_prob=0.8,
        max_tree_depth=10,
        **torch_only,
    ):
        _check_torch_only("NUTS", torch_only)
        super().__init__(
            model=model,
            step_size=step_size,
            adapt_step_size=adapt_step_size,
            adapt_mass_matrix=adapt_mass_matrix,
            dense_mass=full_mass,
            target_accept_prob=target_accept_prob,
            max_tree_depth=max_tree_depth,
        )


class MCMC:
    """``pyro.infer.MCMC(kernel, num_samples, warmup_steps)`` over NumPyro's."""

    def __init__(
        self,
        kernel,
        num_samples,
        warmup_steps=None,
        num_chains=1,
        disable_progbar=True,
        **torch_only,
    ):
        _check_torch_only("MCMC", torch_only)
        self._mcmc = infer.MCMC(
            kernel,
            num_warmup=num_samples if warmup_steps is None else warmup_steps,
            num_samples=num_samples,
            num_chains=num_chains,
            progress_bar=not disable_progbar,
        )

    def run(self, *args, rng_key=None, **kwargs):
        rng_key = numpyro.prng_key() if rng_key is None else rng_key
        if rng_key is None:
            rng_key = jax.random.PRNGKey(0)
        self._mcmc.run(rng_key, *args, **kwargs)

    def get_samples(self, group_by_chain=False):
        return self._mcmc.get_samples(group_by_chain=group_by_chain)
