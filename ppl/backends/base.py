"""The Backend protocol: everything an algorithm may ask of a backend, and nothing more.

An algorithm is written once against this class. ``ppl/backends/numpyro`` and ``ppl/backends/pyro``
implement it; they are the only modules that import jax, numpyro, torch or pyro.

Random keys have one meaning on both backends: ``key(seed)`` makes a key, ``split(key, n)`` makes
``n`` new independent keys (an array whose rows are keys), and a key is consumed once by one of
``normal``, ``uniform``, ``categorical``, ``bernoulli``, ``permutation``, never reused.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..errors import ModelError, PPLError

__all__ = ["Backend", "Optimizer", "to_numpy_any"]


class Optimizer(NamedTuple):
    """An optimizer in the optax style.

    ``state = init(params)``, then ``params, state = update(grads, state, params)``.
    """

    init: Callable[[Any], Any]
    update: Callable[[Any, Any, Any], tuple[Any, Any]]


def to_numpy_any(x) -> np.ndarray:
    """A numpy array from numpy input, a list, or any backend's array (torch tensors included)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _is_foreign_array(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (int, float, complex))


class Backend(abc.ABC):
    """What ``ppl`` needs from an array library and a probabilistic-programming library."""

    name: str
    #: the array-API namespace (``jax.numpy``, or array-api-compat's torch)
    xp: Any
    #: the distributions module (``numpyro.distributions``, ``pyro.distributions``)
    dist: Any
    #: the primitives by name: sample, param, plate, deterministic, factor, subsample
    primitives: dict[str, Callable]
    #: whether ``problem(..., compile=True)`` does anything (JAX compiles always)
    compiles_on_request: bool = False

    # ---- arrays -------------------------------------------------------------------------
    @abc.abstractmethod
    def is_array(self, x) -> bool:
        """Whether ``x`` is already an array of this backend."""

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
    def jit(self, f: Callable, **kwargs) -> Callable:
        """Compile ``f`` where the backend can (``jax.jit``); plain ``f`` otherwise."""

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

    #: whether ``vmap`` can map over model evaluations (chains run vectorised)
    supports_vmap_of_models: bool = False

    def precompile(self, f: Callable, *example_args) -> tuple[Callable, float]:
        """``f`` compiled for arguments like ``example_args``, and the seconds compiling took."""
        return f, 0.0

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

    @abc.abstractmethod
    def apply_precision(self, precision: str) -> None:
        """Compute in ``"float32"`` or ``"float64"`` from now on."""

    @abc.abstractmethod
    def device_scope(self, device):
        """A context manager inside which new arrays are created on ``device``."""

    # ---- native inference ---------------------------------------------------------------
    @abc.abstractmethod
    def hmc_kernel(self, problem, algo: str, options) -> tuple[Callable, Callable]:
        """The backend's own HMC/NUTS kernel over ``problem.potential``: ``(init(key) -> state,
        step(state, key) -> (state, info))`` with ``state.position`` the flat point."""

    @abc.abstractmethod
    def svi(self, model, args, kwargs, options, init_scale=0.1):
        """The backend's own SVI of ``model(*args, **kwargs)``: an object with
        ``init(key, start_values) -> state``, ``step(state, key) -> (state, info)`` and
        ``sample(state, key, n) -> {site: draws}``."""

    @abc.abstractmethod
    def hessian(self, f: Callable) -> Callable:
        """``x -> d²f/dx²`` for a scalar function of a vector."""

    @abc.abstractmethod
    def predictive(self, model, samples: dict, args, kwargs, seed: int) -> dict:
        """Draws of every site given posterior ``samples`` (leading axis: draws), as numpy."""

    @abc.abstractmethod
    def log_likelihood(self, model, samples: dict, args, kwargs) -> dict:
        """Pointwise log-likelihood of each observed site per draw, as numpy."""

    # ---- effect handlers ----------------------------------------------------------------
    @property
    def handlers(self):
        """The backend's effect-handler glue (the module ``handlers`` next to the backend class):
        native messengers for ``ppl.handlers`` and the conversion of its sites to ``ppl.Site``."""
        package = type(self).__module__.rpartition(".")[0]
        return importlib.import_module(f"{package}.handlers")

    @property
    def reparam(self):
        """The backend's reparameterization glue (the module ``reparam`` next to the backend
        class): ``ScoreDelta``, the distribution through which ``ppl.reparam`` hands a
        score-function term to the backend's own ELBO."""
        package = type(self).__module__.rpartition(".")[0]
        return importlib.import_module(f"{package}.reparam")

    # ---- models -------------------------------------------------------------------------
    def problem(
        self,
        model: Callable,
        args=(),
        kwargs=None,
        init_values=None,
        compile=False,
        minibatch=False,
    ):
        """Turn a model program into a ``Problem`` (see ``ppl.backends.problem``).

        The model always runs with this backend active, and an exception it raises is
        re-raised as a ``ModelError`` carrying the backend's own message. ``compile``: compile
        the potential's value and gradient where the backend can (torch: ``torch.compile``; JAX
        always compiles). ``minibatch``: the algorithm will take minibatch gradients, so
        prepare them now (torch: record the minibatch potential, timed in
        ``compile_seconds``).
        """
        from . import bind

        args, kwargs = self.convert_args(args, kwargs)
        try:
            return self._build_problem(
                bind(model, self.name), args, kwargs, dict(init_values or {}), compile, minibatch
            )
        except PPLError:
            raise
        except Exception as err:
            raise ModelError(
                f"The model failed on the {self.name!r} backend while ppl built its log density "
                f"({type(err).__name__}): {err}"
            ) from err

    @abc.abstractmethod
    def _build_problem(
        self,
        model: Callable,
        args: tuple,
        kwargs: dict,
        init_values: dict,
        compile: bool,
        minibatch: bool,
    ):
        """The backend's half of ``problem``: arguments are converted, ``model`` is bound."""

    def convert_args(self, args=(), kwargs=None) -> tuple[tuple, dict]:
        """The model's arguments with numpy arrays, numeric lists, floats and other backends'
        arrays converted to this backend; ints, strings and anything else pass unchanged."""
        args = tuple(self._convert(a, f"argument {i}") for i, a in enumerate(args))
        kwargs = {k: self._convert(v, f"argument {k!r}") for k, v in (kwargs or {}).items()}
        return args, kwargs

    def _convert(self, x, where: str):
        if isinstance(x, float):  # a float may be observed data: a 0-d array of the precision
            return self.asarray(x)
        if x is None or self.is_array(x) or isinstance(x, (bool, int, str)):
            return x
        if isinstance(x, tuple):
            return tuple(self._convert(v, f"{where}[{i}]") for i, v in enumerate(x))
        if isinstance(x, dict):
            return {k: self._convert(v, f"{where}[{k!r}]") for k, v in x.items()}
        if not (isinstance(x, list) or _is_foreign_array(x)):
            return x
        try:
            array = to_numpy_any(x)
        except (ValueError, TypeError) as err:
            raise ModelError(
                f"The model's {where} could not be converted to an array ({err}). "
                "Pass a numpy array of numbers of one shape."
            ) from err
        if array.dtype.kind in "biuf":
            return self.asarray(array)
        if array.dtype.kind in "US" and isinstance(x, list):
            return x
        raise ModelError(
            f"The model's {where} could not be converted to a numeric array: numpy made "
            f"dtype {array.dtype} of shape {array.shape} from it (a ragged or mixed list?). "
            "Pass a numpy array of numbers of one shape."
        )
