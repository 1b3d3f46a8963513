"""``Backend``: a backend's two layers as the one object algorithms are handed.

A backend has two layers (ARCHITECTURE.md, "Backends in two layers"):

- the array layer, ``ArrayBackend`` (``ppl.backends.array_base``; ``<name>/array.py``): array
  namespace, autodiff, keys, trees, loops, optimizers, devices, precision;
- the probabilistic runtime, ``Runtime`` (``ppl.backends.runtime_base``; ``<name>/backend.py``):
  primitives, handler glue, ``problem``, the native NUTS/SVI, predictive and log-likelihood.

A ``Backend`` is a runtime that holds its array layer as ``arrays`` and forwards every method
of ``ArrayBackend`` to it, each by one explicit method below
(``tests/backends/test_layers_split.py`` checks that none is missing). So
``ppl.get_backend(name)`` and ``problem.backend`` answer both kinds of question, while code that
needs arrays alone takes ``backend.arrays`` (or ``problem.arrays``) and nothing else.

>>> import ppl
>>> backend = ppl.get_backend("numpyro")
>>> backend.name, backend.arrays.name
('numpyro', 'jax')
>>> backend.arrays.to_numpy(backend.arrays.normal(backend.key(0), (2,))).shape
(2,)
"""

from __future__ import annotations

from .array_base import ArrayBackend, Optimizer, to_numpy_any
from .runtime_base import Runtime

__all__ = ["ArrayBackend", "Backend", "Optimizer", "Runtime", "to_numpy_any"]


class Backend(Runtime):
    """A ``Runtime`` that forwards the array layer's methods to its ``arrays``.

    A concrete backend subclasses it, implements the runtime's abstract methods and passes its
    ``ArrayBackend`` to ``__init__``; it does not override the forwarders.
    """

    @property
    def xp(self):
        """The array-API namespace of ``arrays``."""
        return self.arrays.xp

    # ---- arrays (forwarded) -------------------------------------------------------------
    def is_array(self, x):
        return self.arrays.is_array(x)

    def float_dtype(self):
        return self.arrays.float_dtype()

    def asarray(self, x, dtype=None):
        return self.arrays.asarray(x, dtype)

    def to_numpy(self, x):
        return self.arrays.to_numpy(x)

    def logsumexp(self, x, axis=None):
        return self.arrays.logsumexp(x, axis)

    def softplus(self, x):
        return self.arrays.softplus(x)

    def stop_gradient(self, x):
        return self.arrays.stop_gradient(x)

    # ---- differentiation, compilation, loops, trees (forwarded) -------------------------
    def value_and_grad(self, f, has_aux=False):
        return self.arrays.value_and_grad(f, has_aux)

    def hessian(self, f):
        return self.arrays.hessian(f)

    def jit(self, f, **kwargs):
        return self.arrays.jit(f, **kwargs)

    def precompile(self, f, *example_args, once: bool = False):
        return self.arrays.precompile(f, *example_args, once=once)

    def compile_step(self, f, name="step", engine=None):
        return self.arrays.compile_step(f, name, engine)

    def scan(self, f, init, xs=None, length=None):
        return self.arrays.scan(f, init, xs, length)

    def cond(self, pred, true_fn, false_fn, *operands):
        return self.arrays.cond(pred, true_fn, false_fn, *operands)

    def vmap(self, f):
        return self.arrays.vmap(f)

    def tree_map(self, f, tree, *rest):
        return self.arrays.tree_map(f, tree, *rest)

    def tree_flatten(self, tree):
        return self.arrays.tree_flatten(tree)

    def tree_unflatten(self, treedef, leaves):
        return self.arrays.tree_unflatten(treedef, leaves)

    def tree_leaves(self, tree):
        return self.arrays.tree_leaves(tree)

    # ---- random keys (forwarded) --------------------------------------------------------
    def key(self, seed):
        return self.arrays.key(seed)

    def split(self, key, num=2):
        return self.arrays.split(key, num)

    def normal(self, key, shape=()):
        return self.arrays.normal(key, shape)

    def uniform(self, key, shape=(), low=0.0, high=1.0):
        return self.arrays.uniform(key, shape, low, high)

    def categorical(self, key, logits, shape=()):
        return self.arrays.categorical(key, logits, shape)

    def bernoulli(self, key, p, shape=()):
        return self.arrays.bernoulli(key, p, shape)

    def permutation(self, key, n):
        return self.arrays.permutation(key, n)

    # ---- optimizers, devices, precision (forwarded) -------------------------------------
    def optimizer(self, name, lr, **kwargs):
        return self.arrays.optimizer(name, lr, **kwargs)

    def resolve_device(self, device):
        return self.arrays.resolve_device(device)

    def to_device(self, tree, device):
        return self.arrays.to_device(tree, device)

    def device_scope(self, device):
        return self.arrays.device_scope(device)

    def chain_shardings(self, device, num_chains):
        return self.arrays.chain_shardings(device, num_chains)

    def chain_processes(self, device):
        return self.arrays.chain_processes(device)

    def device_count(self, device):
        return self.arrays.device_count(device)

    def data_parallel(self, num_devices, device):
        return self.arrays.data_parallel(num_devices, device)

    def apply_precision(self, precision):
        return self.arrays.apply_precision(precision)


# each forwarder reads as the method it forwards to (``help(backend.split)``)
for _name, _forwarder in vars(Backend).items():
    if callable(_forwarder) and not _name.startswith("_"):
        _forwarder.__doc__ = getattr(ArrayBackend, _name).__doc__
del _name, _forwarder
