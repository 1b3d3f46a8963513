"""The array layer of a backend: what an algorithm written once over arrays may ask for.

``ArrayBackend`` is the array namespace, autodiff, random keys, trees, ``jit``/``scan``/``vmap``/
``cond``, optimizers in the ``(init, update)`` style with their state as arrays, devices and
precision. It knows nothing of models: the probabilistic runtime (``ppl.backends.runtime_base``)
holds one and builds on it, never the reverse (an import contract keeps the array modules from
importing the runtime's).

Random keys have one meaning on both backends: ``key(seed)`` makes a key, ``split(key, n)`` makes
``n`` new independent keys (an array whose rows are keys), and a key is consumed once by one of
``normal``, ``uniform``, ``categorical``, ``bernoulli``, ``permutation``, never reused.

>>> import ppl
>>> arrays = ppl.get_backend("numpyro").arrays
>>> value, grad = arrays.value_and_grad(lambda x: (x**2).sum())(arrays.asarray([1.0, 2.0]))
>>> float(value), arrays.to_numpy(grad).tolist()
(5.0, [2.0, 4.0])
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

__all__ = ["ArrayBackend", "DataParallel", "Optimizer", "to_numpy_any"]


class Optimizer(NamedTuple):
    """An optimizer in the optax style.

    ``state = init(params)``, then ``params, state = update(grads, state, params)``.
    """

    init: Callable[[Any], Any]
    update: Callable[[Any, Any, Any], tuple[Any, Any]]


class DataParallel(NamedTuple):
    """Devices that share every minibatch (``ArrayBackend.data_parallel``).

    num_parts: how many parts a minibatch is split into, one per device. sum_parts:
    ``sum_parts(f, *args)`` is ``sum(f(part, *args) for part in range(num_parts))`` (``f``
    returns a tree of arrays), each device computing its own part and the backend's collective
    summing them (``psum`` over a device mesh on JAX, ``all_reduce`` of ``torch.distributed``
    on torch); every device gets the sum. ``sum_parts(f, *args, rows=mask)``: ``mask`` (a
    tree of booleans like ``args``, to a prefix) marks the arrays placed ``by_rows``, of which
    each device reads its own block of rows. device: the device this process builds the
    problem on (``resolve_device``'s kind). placement: where the driver puts the data and the
    state, a placement ``to_device`` accepts (on every device of a JAX mesh), or ``None``
    where they stay on ``device`` (one process per device). where: the devices in words.
    by_rows: the placement that splits an array's leading axis into ``num_parts`` contiguous
    blocks, one per device (``None`` where the layer cannot). rows: the mask of the data's
    arrays (``data_parallel.shard``) placed ``by_rows``, or ``None``: every device holds all.
    """

    num_parts: int
    sum_parts: Callable
    device: Any
    placement: Any
    where: str
    by_rows: Any = None
    rows: Any = None


def to_numpy_any(x) -> np.ndarray:
    """A numpy array from numpy input, a list, or any backend's array (torch tensors included)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


class _Uncompiled:
    """A step left as it is (``ArrayBackend.compile_step``'s default)."""

    compile_seconds = 0.0

    def __init__(self, f: Callable):
        self._f = f

    def __call__(self, *args):
        return self._f(*args)


class ArrayBackend(abc.ABC):
    """Arrays, autodiff, keys, trees, loops, optimizers and devices of one array library."""

    #: the array library (``"jax"``, ``"torch"``)
    name: str
    #: the array-API namespace (``jax.numpy``, or array-api-compat's torch)
    xp: Any

    # ---- arrays -------------------------------------------------------------------------
    @abc.abstractmethod
    def is_array(self, x) -> bool:
        """Whether ``x`` is already an array of this backend."""

    @abc.abstractmethod
    def float_dtype(self):
        """The floating dtype of the active precision."""

    @abc.abstractmethod
    def asarray(self, x, dtype=None):
        """An array of this backend from numpy input, a list or another backend's array.

        Floating input takes the active precision; integers and booleans keep their kind.
        """

    def to_numpy(self, x) -> np.ndarray:
        """A numpy copy of an array of this backend."""
        return to_numpy_any(x)

    @abc.abstractmethod
    def logsumexp(self, x, axis=None):
        """``log(sum(exp(x)))`` along ``axis``, computed stably."""

    @abc.abstractmethod
    def softplus(self, x):
        """``log(1 + exp(x))``, computed stably."""

    @abc.abstractmethod
    def stop_gradient(self, x):
        """``x`` with the same value and no gradient (``lax.stop_gradient``, ``Tensor.detach``)."""

    # ---- differentiation, compilation, loops, trees -------------------------------------
    @abc.abstractmethod
    def value_and_grad(self, f: Callable, has_aux: bool = False) -> Callable:
        """``g(x, *args) -> (f(x, *args), df/dx)``; ``x`` may be a tree of arrays."""

    @abc.abstractmethod
    def hessian(self, f: Callable) -> Callable:
        """``x -> d²f/dx²`` for a scalar function of a vector."""

    @abc.abstractmethod
    def jit(self, f: Callable, **kwargs) -> Callable:
        """Compile ``f`` where the backend can (``jax.jit``); plain ``f`` otherwise."""

    def precompile(self, f: Callable, *example_args, once: bool = False) -> tuple[Callable, float]:
        """``f`` compiled for arguments like ``example_args``, and the seconds compiling took.
        ``once``: a program run once or a few times (a fit's draws, an initial state), whose
        cost is its compilation: compiled with less optimisation where the backend has the
        choice."""
        return f, 0.0

    def compile_step(self, f: Callable, name: str = "step", engine: str | None = None) -> Callable:
        """An algorithm's step ``f(state, key) -> (state, info)`` compiled on its own, for
        backends that run the driver's loop eagerly (torch: recorded as one graph at its first
        call, ``compile=True``). ``engine``: the compiler, where the backend has several
        (torch: ``"inductor"``, ``compile="inductor"``); None: the backend's default. The result
        has ``compile_seconds``, what compiling has cost so far. Here ``f`` as it is: JAX
        compiles the whole loop around it."""
        return _Uncompiled(f)

    @abc.abstractmethod
    def scan(self, f: Callable, init, xs=None, length: int | None = None):
        """``lax.scan``: ``carry, ys = scan(f, init, xs)`` with ``f(carry, x) -> (carry, y)``."""

    def cond(self, pred, true_fn: Callable, false_fn: Callable, *operands):
        """``true_fn(*operands)`` if the scalar ``pred`` holds, else ``false_fn(*operands)``;
        both return trees of the same structure. Only the branch taken runs (``lax.cond``
        inside ``jit`` on JAX; a Python ``if`` on eager backends, the default here)."""
        return true_fn(*operands) if bool(pred) else false_fn(*operands)

    @abc.abstractmethod
    def vmap(self, f: Callable) -> Callable:
        """Map ``f`` over the leading axis of every argument, stacking the outputs."""

    @abc.abstractmethod
    def tree_map(self, f: Callable, tree, *rest):
        """Apply ``f`` to every leaf (and the matching leaves of ``rest``)."""

    @abc.abstractmethod
    def tree_flatten(self, tree) -> tuple[list, Any]:
        """``leaves, treedef``."""

    @abc.abstractmethod
    def tree_unflatten(self, treedef, leaves):
        """The inverse of ``tree_flatten``."""

    def tree_leaves(self, tree) -> list:
        """The leaves of ``tree``, in ``tree_flatten`` order."""
        return self.tree_flatten(tree)[0]

    # ---- random keys --------------------------------------------------------------------
    @abc.abstractmethod
    def key(self, seed: int):
        """A fresh key from an integer seed."""

    @abc.abstractmethod
    def split(self, key, num: int = 2):
        """``num`` independent keys derived from ``key`` (index the result to get one)."""

    @abc.abstractmethod
    def normal(self, key, shape=()):
        """Standard normal draws of ``shape`` in the active precision."""

    @abc.abstractmethod
    def uniform(self, key, shape=(), low=0.0, high=1.0):
        """Uniform draws on ``[low, high)``."""

    @abc.abstractmethod
    def categorical(self, key, logits, shape=()):
        """Indices drawn with probabilities ``softmax(logits)`` along the last axis."""

    @abc.abstractmethod
    def bernoulli(self, key, p, shape=()):
        """Booleans that are true with probability ``p``."""

    @abc.abstractmethod
    def permutation(self, key, n: int):
        """A random permutation of ``range(n)``."""

    # ---- optimizers, devices, precision -------------------------------------------------
    @abc.abstractmethod
    def optimizer(self, name: str, lr, **kwargs) -> Optimizer:
        """An ``Optimizer`` by name (``adam``, ``sgd``, ``rmsprop``, ``adagrad``); ``lr`` may be a
        schedule ``step -> learning rate``."""

    @abc.abstractmethod
    def resolve_device(self, device: str | None):
        """The backend's device for ``"cpu"``, ``"cuda"``/``"gpu"`` or ``None`` (the default);
        a ``BackendError`` naming the fix when it is absent."""

    @abc.abstractmethod
    def to_device(self, tree, device):
        """``tree`` with every array moved to ``device`` (from ``resolve_device``)."""

    def chain_shardings(self, device, num_chains: int) -> tuple[Any, Any] | None:
        """Where ``num_chains`` chains run in parallel, one per device like ``device``:
        ``(replicated, by_chain)``, two placements ``to_device`` accepts (the data on every
        device; stacked chain states split along their leading axis), or ``None`` where fewer
        devices are visible or the layer runs chains on one device."""
        return None

    def device_count(self, device) -> int:
        """How many devices like ``device`` (from ``resolve_device``) are visible."""
        return 1

    def data_parallel(self, num_devices: int, device) -> DataParallel:
        """``num_devices`` devices like ``device`` (from ``resolve_device``) that share every
        minibatch (``DataParallel``); a ``BackendError`` naming what is visible and the fix
        where they are not there."""
        from ..errors import BackendError

        raise BackendError(f"The {self.name} array layer has no data-parallel devices.")

    def chain_processes(self, device) -> bool:
        """Whether ``chain_method="parallel"`` can run one forked worker process per chain on
        ``device`` (for a layer that runs its loop eagerly, where chains cannot share one
        compiled program over devices)."""
        return False

    @abc.abstractmethod
    def device_scope(self, device):
        """A context manager inside which new arrays are created on ``device``."""

    @abc.abstractmethod
    def apply_precision(self, precision: str) -> None:
        """Compute in ``"float32"`` or ``"float64"`` from now on."""
