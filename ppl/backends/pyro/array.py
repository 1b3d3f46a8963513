"""The array layer on torch: ``TorchArrays``, the ``ArrayBackend`` of the Pyro backend.

It imports torch (and array-api-compat's torch namespace), never pyro: an algorithm written over
arrays runs on it alone. Keys are ``ppl.backends.pyro.keys``; optimizers are the functional ones
of ``ppl.backends.pyro.optim``; ``jit`` is the identity, ``scan`` is a Python loop and ``vmap``
is ``torch.func.vmap`` (a loop where a function cannot be vectorised). ``compile_step`` records
an algorithm's whole step as one graph (``ppl.backends.pyro.traced``); while it records, the key
operations and ``cond`` record too.

>>> from ppl.backends.pyro.array import TorchArrays
>>> arrays = TorchArrays()
>>> value, grad = arrays.value_and_grad(lambda x: (x**2).sum())(arrays.asarray([1.0, 2.0]))
>>> float(value), arrays.to_numpy(grad).tolist()
(5.0, [2.0, 4.0])
"""

from __future__ import annotations

import contextlib
import multiprocessing
import warnings

import array_api_compat.torch as torch_xp
import numpy as np
import torch
import torch.utils._pytree as pytree

from ...errors import BackendError, OptionError, did_you_mean
from ..array_base import ArrayBackend, to_numpy_any
from . import keys, traced
from .optim import OPTIMIZERS, functional_optimizer

__all__ = ["TorchArrays"]


def _loop(f, args):
    leaves, spec = pytree.tree_flatten(args)
    rows = [pytree.tree_unflatten([v[i] for v in leaves], spec) for i in range(len(leaves[0]))]
    return _stack([f(*row) for row in rows])


def _stack(trees):
    def stack(*leaves):
        return None if leaves[0] is None else torch.stack([torch.as_tensor(v) for v in leaves])

    return pytree.tree_map(stack, *trees, is_leaf=lambda v: v is None)


class TorchArrays(ArrayBackend):
    """torch tensors, ``torch.autograd``, SplitMix64 keys, functional optimizers."""

    name = "torch"
    xp = torch_xp

    # ---- arrays
    def is_array(self, x) -> bool:
        return isinstance(x, torch.Tensor)

    def float_dtype(self):
        return torch.get_default_dtype()

    def asarray(self, x, dtype=None):
        array = x if torch.is_tensor(x) else to_numpy_any(x)
        floating = (
            array.dtype.is_floating_point
            if torch.is_tensor(array)
            else np.dtype(array.dtype).kind == "f"
        )
        if dtype is None and floating:
            dtype = self.float_dtype()
        return torch.as_tensor(array, dtype=dtype)

    def logsumexp(self, x, axis=None):
        if axis is None:
            return torch.logsumexp(x.reshape(-1), dim=0)
        return torch.logsumexp(x, dim=axis)

    def softplus(self, x):
        return torch.nn.functional.softplus(x)

    def stop_gradient(self, x):
        return x.detach()

    # ---- differentiation, compilation, loops, trees
    def value_and_grad(self, f, has_aux=False):
        def value_and_grad_f(x, *args, **kwargs):
            leaves, spec = pytree.tree_flatten(x)
            # called inside an outer differentiation (the inputs carry a graph), it nests as
            # jax.grad does: the inputs stay attached and the gradient is itself differentiable
            nested = torch.is_grad_enabled() and any(
                torch.is_tensor(leaf) and leaf.requires_grad for leaf in leaves
            )
            leaves = [
                leaf if nested and leaf.requires_grad else leaf.detach().requires_grad_(True)
                for leaf in leaves
            ]
            with torch.enable_grad():
                out = f(pytree.tree_unflatten(leaves, spec), *args, **kwargs)
                value, aux = out if has_aux else (out, None)
                grads = torch.autograd.grad(value, leaves, allow_unused=True, create_graph=nested)
            grads = [torch.zeros_like(v) if g is None else g for v, g in zip(leaves, grads)]
            grad_tree = pytree.tree_unflatten(grads, spec)
            value = value if nested else value.detach()
            return ((value, aux), grad_tree) if has_aux else (value, grad_tree)

        return value_and_grad_f

    def hessian(self, f):
        return lambda x: torch.autograd.functional.hessian(f, x.detach())

    def jit(self, f, **kwargs):
        return f

    def compile_step(self, f, name="step", engine=None):
        return traced.trace_step(f, name, engine or "script")

    def cond(self, pred, true_fn, false_fn, *operands):
        if not (traced.tracing() and torch.is_tensor(pred)):
            return true_fn(*operands) if bool(pred) else false_fn(*operands)
        # recording a step: both branches, then a select (the taken one's values, exactly)
        taken, other = true_fn(*operands), false_fn(*operands)
        return pytree.tree_map(lambda a, b: torch.where(pred, a, b), taken, other)

    def scan(self, f, init, xs=None, length=None):
        if xs is None:
            items = [None] * length
        else:
            leaves, spec = pytree.tree_flatten(xs)
            items = [
                pytree.tree_unflatten([v[i] for v in leaves], spec) for i in range(len(leaves[0]))
            ]
        carry, ys = init, []
        for item in items:
            carry, y = f(carry, item)
            ys.append(y)
        return carry, (_stack(ys) if ys and ys[0] is not None else None)

    def vmap(self, f):
        """``f`` mapped over the leading axis of its arguments by ``torch.func.vmap``; where
        ``f`` cannot be vectorised (data-dependent control flow, ``.item()``, random draws,
        autograd inside), a Python loop over rows, with one warning that names the cause."""
        vectorised = torch.func.vmap(f)
        looping = []  # set once vectorisation has failed: then every call loops

        def mapped(*args):
            if not looping:
                try:
                    return vectorised(*args)
                except Exception as err:  # noqa: BLE001 - any failure: the loop gives the answer
                    looping.append(err)
                    warnings.warn(
                        f"{getattr(f, '__qualname__', f)!r} could not be vectorised on torch "
                        f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); ppl maps it "
                        "with a Python loop over rows, which is slower. Models without Python "
                        "control flow on latent values vectorise.",
                        stacklevel=2,
                    )
            return _loop(f, args)

        return mapped

    def tree_map(self, f, tree, *rest):
        return pytree.tree_map(f, tree, *rest)

    def tree_flatten(self, tree):
        return pytree.tree_flatten(tree)

    def tree_unflatten(self, treedef, leaves):
        return pytree.tree_unflatten(list(leaves), treedef)

    # ---- random keys
    def key(self, seed):
        return keys.key(seed)

    def split(self, key, num=2):
        if traced.tracing():
            return traced.split_op(torch.as_tensor(key), num)
        return keys.split(key, num)

    def normal(self, key, shape=()):
        if traced.tracing():
            return traced.normal_op(torch.as_tensor(key), list(shape), self.float_dtype())
        return torch.randn(tuple(shape), generator=keys.generator(key), dtype=self.float_dtype())

    def uniform(self, key, shape=(), low=0.0, high=1.0):
        if traced.tracing():
            u = traced.uniform_op(torch.as_tensor(key), list(shape), self.float_dtype())
        else:
            u = torch.rand(tuple(shape), generator=keys.generator(key), dtype=self.float_dtype())
        return low + (high - low) * u

    def categorical(self, key, logits, shape=()):
        shape = tuple(shape) or tuple(logits.shape[:-1])
        u = self.uniform(key, shape + (logits.shape[-1],))
        gumbel = -torch.log(-torch.log(u.clamp_min(torch.finfo(u.dtype).tiny)))
        return torch.argmax(logits + gumbel, dim=-1)

    def bernoulli(self, key, p, shape=()):
        shape = tuple(shape) or tuple(torch.as_tensor(p).shape)
        return self.uniform(key, shape) < p

    def permutation(self, key, n):
        if traced.tracing():
            return traced.permutation_op(torch.as_tensor(key), n)
        return torch.randperm(n, generator=keys.generator(key))

    # ---- optimizers, devices, precision
    def optimizer(self, name, lr, **kwargs):
        if name not in OPTIMIZERS:
            raise OptionError(
                f"Unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}."
                + did_you_mean(name, OPTIMIZERS)
            )
        if kwargs:
            raise OptionError(
                f"The pyro backend's optimizers take only a learning rate, not {sorted(kwargs)}."
            )
        return functional_optimizer(name, lr)

    def device_count(self, device):
        return torch.cuda.device_count() if device.type == "cuda" else 1

    def data_parallel(self, num_devices, device):
        from .distributed import data_parallel  # torch.distributed, only when asked for

        return data_parallel(num_devices, device)

    def chain_processes(self, device):
        # forked workers, like Pyro's own MCMC with several chains; CUDA cannot be forked
        return device.type == "cpu" and "fork" in multiprocessing.get_all_start_methods()

    def resolve_device(self, device):
        if device is None:
            return torch.device("cpu")
        text = str(device).replace("gpu", "cuda")
        if text.split(":")[0] not in ("cpu", "cuda"):
            raise BackendError(f"Unknown device {device!r}; use 'cpu', 'cuda' or 'gpu'.")
        if text.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(
                f"Device {device!r} is not available: this torch build ({torch.__version__}) "
                "sees no CUDA GPU. Install a CUDA build of torch or use device='cpu'."
            )
        target = torch.device(text)
        if target.type == "cuda" and (target.index or 0) >= torch.cuda.device_count():
            raise BackendError(
                f"Device {device!r} is not available: torch sees {torch.cuda.device_count()} "
                "CUDA device(s). Use a smaller index or device='cpu'."
            )
        return target

    def to_device(self, tree, device):
        return pytree.tree_map(lambda v: v.to(device) if torch.is_tensor(v) else v, tree)

    def apply_precision(self, precision):
        torch.set_default_dtype(torch.float64 if precision == "float64" else torch.float32)

    def device_scope(self, device):
        # ``with torch.device(d)`` routes every torch call through a Python __torch_function__
        # mode (~20% of a small model's step); it is a no-op on the default device, so skip it
        if torch.device(device) == torch.get_default_device():
            return contextlib.nullcontext()
        return torch.device(device)
