"""The NumPyro (JAX) implementation of the Backend protocol."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as numpyro_dist
import optax
from jax import lax

from ...errors import BackendError, HandlerError, OptionError, did_you_mean
from ..base import Backend, Optimizer, to_numpy_any
from .optimizers import OPTIMIZERS

__all__ = ["NumPyroBackend"]


def _optax_update(transform):
    def update(grads, state, params):
        updates, state = transform.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return update


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


class NumPyroBackend(Backend):
    name = "numpyro"
    xp = jnp
    dist = numpyro_dist
    primitives = {
        "sample": _sample,
        "param": numpyro.param,
        "plate": numpyro.plate,
        "deterministic": numpyro.deterministic,
        "factor": numpyro.factor,
        "subsample": numpyro.subsample,
    }

    # ---- arrays
    def is_array(self, x) -> bool:
        return isinstance(x, jax.Array)

    def float_dtype(self):
        return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32

    def asarray(self, x, dtype=None):
        array = x if isinstance(x, jax.Array) else to_numpy_any(x)
        if dtype is None and np.dtype(array.dtype).kind == "f":
            dtype = self.float_dtype()
        return jnp.asarray(array, dtype=dtype)

    def logsumexp(self, x, axis=None):
        return jax.scipy.special.logsumexp(x, axis=axis)

    def softplus(self, x):
        return jax.nn.softplus(x)

    def stop_gradient(self, x):
        return jax.lax.stop_gradient(x)

    # ---- differentiation, compilation, loops, trees
    def value_and_grad(self, f, has_aux=False):
        return jax.value_and_grad(f, has_aux=has_aux)

    def jit(self, f, **kwargs):
        return jax.jit(f, **kwargs)

    def scan(self, f, init, xs=None, length=None):
        return lax.scan(f, init, xs, length=length)

    def cond(self, pred, true_fn, false_fn, *operands):
        return lax.cond(pred, true_fn, false_fn, *operands)

    def vmap(self, f):
        return jax.vmap(f)

    def tree_map(self, f, tree, *rest):
        return jax.tree_util.tree_map(f, tree, *rest)

    def tree_flatten(self, tree):
        return jax.tree_util.tree_flatten(tree)

    def tree_unflatten(self, treedef, leaves):
        return jax.tree_util.tree_unflatten(treedef, leaves)

    # ---- random keys
    def key(self, seed):
        return jax.random.PRNGKey(seed)

    def split(self, key, num=2):
        return jax.random.split(key, num)

    def normal(self, key, shape=()):
        return jax.random.normal(key, tuple(shape), dtype=self.float_dtype())

    def uniform(self, key, shape=(), low=0.0, high=1.0):
        return jax.random.uniform(key, tuple(shape), self.float_dtype(), low, high)

    def categorical(self, key, logits, shape=()):
        return jax.random.categorical(key, logits, shape=tuple(shape) or None)

    def bernoulli(self, key, p, shape=()):
        return jax.random.bernoulli(key, p, tuple(shape) or None)

    def permutation(self, key, n):
        return jax.random.permutation(key, n)

    # ---- optimizers, devices, precision
    def optimizer(self, name, lr, **kwargs):
        if name not in OPTIMIZERS:
            raise OptionError(
                f"Unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}."
                + did_you_mean(name, OPTIMIZERS)
            )
        transform = OPTIMIZERS[name](lr, **kwargs)
        return Optimizer(transform.init, _optax_update(transform))

    def resolve_device(self, device):
        if device is None:
            return jax.devices()[0]
        platform = {"cuda": "gpu", "gpu": "gpu", "cpu": "cpu"}.get(str(device).split(":")[0])
        if platform is None:
            raise BackendError(f"Unknown device {device!r}; use 'cpu', 'cuda' or 'gpu'.")
        try:
            devices = jax.devices(platform)
        except RuntimeError as err:
            raise BackendError(
                f"Device {device!r} is not available to JAX (it sees {jax.devices()}). Install "
                "a JAX build for it (pip install 'jax[cuda12]') or use device='cpu'."
            ) from err
        index = int(str(device).split(":")[1]) if ":" in str(device) else 0
        if index >= len(devices):
            raise BackendError(
                f"Device {device!r} is not available: JAX sees {len(devices)} {platform} "
                f"device(s) ({devices}). Use an index below {len(devices)} or device='cpu'."
            )
        return devices[index]

    def to_device(self, tree, device):
        return jax.tree_util.tree_map(
            lambda v: jax.device_put(v, device) if isinstance(v, jax.Array) else v, tree
        )

    def apply_precision(self, precision):
        jax.config.update("jax_enable_x64", precision == "float64")

    def device_scope(self, device):
        return jax.default_device(device)

    supports_vmap_of_models = True

    def precompile(self, f, *example_args):
        start = time.perf_counter()
        compiled = jax.jit(f).lower(*example_args).compile()
        return compiled, time.perf_counter() - start

    # ---- native inference
    def hmc_kernel(self, problem, algo, options):
        from .mcmc import hmc_kernel

        return problem.cached(("hmc", algo, options), lambda: hmc_kernel(problem, algo, options))

    def svi(self, model, args, kwargs, options, init_scale=0.1):
        from .svi import Runner

        return Runner(model, args, kwargs, options, init_scale)

    def hessian(self, f):
        return jax.hessian(f)

    def predictive(self, model, samples, args, kwargs, seed):
        from numpyro.infer import Predictive

        draws = Predictive(model, posterior_samples=samples)(self.key(seed), *args, **kwargs)
        return {k: np.asarray(v) for k, v in draws.items()}

    def log_likelihood(self, model, samples, args, kwargs):
        from numpyro.infer.util import log_likelihood

        return {
            k: np.asarray(v) for k, v in log_likelihood(model, samples, *args, **kwargs).items()
        }

    # ---- models
    def _build_problem(self, model, args, kwargs, init_values, compile=False, minibatch=False):
        from .problem import build_problem  # compile, minibatch: jit does both when first called

        return build_problem(self, model, args, kwargs, init_values)
