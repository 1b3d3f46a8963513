"""The array layer on JAX: ``NumPyroArrays``, the ``ArrayBackend`` of the NumPyro backend.

It imports jax and optax, never numpyro: an algorithm written over arrays runs on it alone.

>>> from ppl.backends.numpyro.array import NumPyroArrays
>>> arrays = NumPyroArrays()
>>> step = lambda c, x: (c + x, 2 * c)
>>> carry, ys = arrays.scan(step, arrays.asarray(0.0), arrays.asarray([1.0, 2.0]))
>>> float(carry), arrays.to_numpy(ys).tolist()
(3.0, [0.0, 2.0])
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from ...errors import BackendError, OptionError, did_you_mean
from ..array_base import ArrayBackend, DataParallel, Optimizer, to_numpy_any
from .optimizers import OPTIMIZERS

__all__ = ["NumPyroArrays", "ONCE_COMPILER_OPTIONS", "DISTRIBUTED_ENVIRONMENT"]

#: the variables that make this process one of several (``jax.distributed.initialize``)
DISTRIBUTED_ENVIRONMENT = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def _join_processes() -> None:
    """``jax.distributed.initialize`` from ``DISTRIBUTED_ENVIRONMENT`` where it is set (before
    JAX starts a computation, so on this module's import): ``jax.devices()`` then lists every
    process's devices, and ``devices=N`` can span them (CPU collectives through gloo)."""
    settings = {name: os.environ.get(name) for name in DISTRIBUTED_ENVIRONMENT}
    if settings["JAX_COORDINATOR_ADDRESS"] is None or jax.distributed.is_initialized():
        return
    described = ", ".join(f"{k}={v if v is not None else '<unset>'}" for k, v in settings.items())
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            settings["JAX_COORDINATOR_ADDRESS"],
            int(settings["JAX_NUM_PROCESSES"]),
            int(settings["JAX_PROCESS_ID"]),
        )
    except Exception as err:  # noqa: BLE001 - every failure to join is named the same way
        raise BackendError(
            f"jax.distributed.initialize failed ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:300] if str(err) else ''}) with {described}. Set all "
            "three in every process: the coordinator's host:port (process 0 listens there), "
            "the number of processes, and this process's id in 0..JAX_NUM_PROCESSES-1; or "
            "unset JAX_COORDINATOR_ADDRESS to run in one process."
        ) from err


_join_processes()

#: XLA's options for a program run once (``precompile(once=True)``): LLVM's optimisation
#: level 1 instead of 3 halves the compilation of random draws (``jax.random.normal`` of
#: ``(1000, 4)``: 0.45 -> 0.22 s of CPU), the cost of such a program; its results are the
#: same bits (``tests/inference/test_svi_compiles.py``)
ONCE_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


def _optax_update(transform):
    def update(grads, state, params):
        updates, state = transform.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return update


class NumPyroArrays(ArrayBackend):
    """JAX arrays, ``jax.grad``, ``jax.random`` keys, ``lax`` loops, optax optimizers."""

    name = "jax"
    xp = jnp

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

    def hessian(self, f):
        return jax.hessian(f)

    def jit(self, f, **kwargs):
        return jax.jit(f, **kwargs)

    def precompile(self, f, *example_args, once: bool = False):
        start = time.perf_counter()
        options = ONCE_COMPILER_OPTIONS if once else None
        compiled = jax.jit(f).lower(*example_args).compile(compiler_options=options)
        return compiled, time.perf_counter() - start

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
        # onto devices of several processes (jax.distributed): each process fills its own
        # devices from its host copy (the same values, but for a state's wall-clock seconds)
        local = not isinstance(device, jax.sharding.Sharding) or device.is_fully_addressable

        def put(v):
            if not isinstance(v, jax.Array):
                return v
            if local:
                return jax.device_put(v, device)
            host = np.asarray(v)
            return jax.make_array_from_callback(host.shape, device, lambda index: host[index])

        return jax.tree_util.tree_map(put, tree)

    def chain_shardings(self, device, num_chains):
        devices = jax.devices(device.platform)
        if num_chains < 2 or len(devices) < num_chains:
            return None
        mesh = jax.sharding.Mesh(np.array(devices[:num_chains]), ("chain",))
        spec = jax.sharding.PartitionSpec
        return (
            jax.sharding.NamedSharding(mesh, spec()),
            jax.sharding.NamedSharding(mesh, spec("chain")),
        )

    def device_count(self, device):
        return len(jax.devices(device.platform))

    def data_parallel(self, num_devices, device):
        devices = jax.devices(device.platform)  # every process's, after jax.distributed
        if len(devices) < num_devices:
            raise BackendError(
                f"devices={num_devices}: JAX sees {len(devices)} {device.platform} device(s) "
                f"({devices}). On CPU, set XLA_FLAGS=--xla_force_host_platform_device_count="
                f"{num_devices} before JAX is imported; on GPUs, make them visible "
                "(CUDA_VISIBLE_DEVICES=0,1,...); across processes or hosts, start each with "
                "JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID set (ppl calls "
                f"jax.distributed.initialize). Or ask for devices <= {len(devices)}."
            )
        mesh = jax.sharding.Mesh(np.array(devices[:num_devices]), ("data",))
        replicated, by_rows = jax.sharding.PartitionSpec(), jax.sharding.PartitionSpec("data")

        def sum_parts(f, *args, rows=None):
            def local(*args):  # one device: its part, then the sum over the mesh
                return jax.lax.psum(f(jax.lax.axis_index("data"), *args), "data")

            specs = replicated
            if rows is not None:  # the arrays marked read as each device's block of rows
                specs = tuple(jax.tree_util.tree_map(lambda r: by_rows if r else replicated, rows))
            return jax.shard_map(
                local, mesh=mesh, in_specs=specs, out_specs=replicated, check_vma=False
            )(*args)

        return DataParallel(
            num_devices,
            sum_parts,
            jax.local_devices(backend=device.platform)[0],  # this process's first
            jax.sharding.NamedSharding(mesh, replicated),
            f"{num_devices} JAX {device.platform} devices",
            jax.sharding.NamedSharding(mesh, by_rows),
        )

    def device_scope(self, device):
        return jax.default_device(device)

    def apply_precision(self, precision):
        jax.config.update("jax_enable_x64", precision == "float64")
