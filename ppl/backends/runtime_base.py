"""The probabilistic runtime of a backend: what ppl needs from a probabilistic-programming library.

``Runtime`` is the primitives, the distributions, the effect-handler and reparameterization
glue, ``problem(model, args, kwargs)`` building a ``Problem``, the library's own NUTS/HMC and
SVI, predictive draws and the pointwise log-likelihood. It declares no array operation: it
holds its array layer as ``arrays`` (an ``ArrayBackend``) and does its array work there.
``ppl.backends.base.Backend`` is a runtime that also forwards the array layer's methods, the one
object algorithms are handed.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable
from typing import Any

from ..errors import ModelError, PPLError
from .array_base import ArrayBackend, to_numpy_any

__all__ = ["Runtime"]


def _is_foreign_array(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (int, float, complex))


class Runtime(abc.ABC):
    """Models on one probabilistic-programming library, over the array layer ``arrays``."""

    #: the backend's name (``"numpyro"``, ``"pyro"``), as ``ppl.get_backend`` knows it
    name: str
    #: the array layer this runtime computes with
    arrays: ArrayBackend
    #: the distributions module (``numpyro.distributions``, ``pyro.distributions``)
    dist: Any
    #: the primitives by name: sample, param, plate, deterministic, factor, subsample
    primitives: dict[str, Callable]
    #: whether ``problem(..., compile=True)`` does anything (JAX compiles always)
    compiles_on_request: bool = False
    #: whether the array layer's ``vmap`` can map over model evaluations (chains run vectorised)
    supports_vmap_of_models: bool = False

    def __init__(self, arrays: ArrayBackend):
        self.arrays = arrays

    # ---- native inference ---------------------------------------------------------------
    @abc.abstractmethod
    def hmc_kernel(
        self, problem, algo: str, options, value_and_grad=None
    ) -> tuple[Callable, Callable]:
        """The backend's own HMC/NUTS kernel over ``problem.potential``: ``(init(key) -> state,
        step(state, key) -> (state, info))`` with ``state.position`` the flat point;
        ``init`` checks its start with ``value_and_grad`` (``Problem.init``)."""

    def batched_hmc_kernel(self, problem, algo: str, options) -> tuple[Callable, Callable]:
        """``(init, step)`` of ``algo`` over stacked chains (``Algorithm.vectorized``), for a
        backend whose ``vmap`` cannot map its own kernel: ``init(key)`` gives one chain's state,
        ``step`` advances the stacked states with one key per chain. Raises
        ``NotImplementedError`` with the reason where there is none for ``algo`` or
        ``problem``."""
        raise NotImplementedError(f"the {self.name} backend has no batched {algo} kernel")

    @abc.abstractmethod
    def svi(
        self, model, args, kwargs, options, init_scale=0.1, local=None, parallel=None, plates=None
    ):
        """The backend's own SVI of ``model(*args, **kwargs)`` (``local``: ``(plate, size)``
        of its local latent sites, or ``None``): an object with
        ``init(key, start_values) -> state``, ``step(state, key) -> (state, info)`` and
        ``sample(state, key, n) -> {site: draws}``. ``parallel``: the ``DataParallel`` devices
        over which each step splits the minibatch of the subsampled plates ``plates``
        (``{name: (size, batch)}``) and sums the parts' gradients before the update."""

    @abc.abstractmethod
    def predictive(
        self, model, samples: dict, args, kwargs, seed: int, num_samples: int | None = None
    ) -> dict:
        """Draws of the model's sites given posterior ``samples`` of its latent sites (leading
        axis: draws), as numpy ``{site: (draws, *shape)}``: every sample and deterministic site
        but those in ``samples`` and ``factor`` sites. Without ``samples``, ``num_samples``
        draws from the prior (latent sites included)."""

    @abc.abstractmethod
    def log_likelihood(self, model, samples: dict, args, kwargs) -> dict:
        """Pointwise log-likelihood of each observed site per draw, as numpy."""

    @abc.abstractmethod
    def local_log_weights(self, model, guide, params, args, kwargs, num, plate, seed, chunk=100):
        """Importance log-weights per data point, numpy ``(num, B)``: ``num`` draws of the
        guide (its parameters ``params``, constrained) for each of the ``B`` data points of
        ``plate``, ``log p(x_i, z_i) - log q(z_i | x_i)``, ``chunk`` draws at a time."""

    def param_scope(self):
        """A context in which ``param`` sites start afresh (a fresh parameter store where the
        library keeps one: Pyro), restored after; checks that run a guide use it, so that
        parameters of earlier runs do not leak in."""
        import contextlib

        return contextlib.nullcontext()

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
        discrete=False,
        local_latents=False,
    ):
        """Turn a model program into a ``Problem`` (see ``ppl.backends.problem``).

        The model always runs with this backend active, and an exception it raises is
        re-raised as a ``ModelError`` carrying the backend's own message. ``compile``: compile
        the potential's value and gradient where the backend can (torch: ``torch.compile``; JAX
        always compiles). ``minibatch``: the algorithm will take minibatch gradients, so
        prepare them now (torch: record the minibatch potential, timed in
        ``compile_seconds``). ``discrete``: keep the model's discrete latent sites in the
        layout (``Problem.discrete``), for an algorithm that updates them itself (``gibbs``);
        without it a discrete latent site is refused. ``local_latents``: latent sites inside a
        subsampled plate are kept out of the flat vector (``Problem.local_sites``) rather than
        refused.
        """
        from . import bind

        args, kwargs = self.convert_args(args, kwargs)
        try:
            return self._build_problem(
                bind(model, self.name),
                args,
                kwargs,
                dict(init_values or {}),
                compile,
                minibatch,
                discrete,
                local_latents=local_latents,
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
        discrete: bool = False,
        local_latents: bool = False,
    ):
        """The backend's half of ``problem``: arguments are converted, ``model`` is bound."""

    def convert_args(self, args=(), kwargs=None) -> tuple[tuple, dict]:
        """The model's arguments with numpy arrays, numeric lists, floats and other backends'
        arrays converted to this backend; ints, strings and anything else pass unchanged."""
        args = tuple(self._convert(a, f"argument {i}") for i, a in enumerate(args))
        kwargs = {k: self._convert(v, f"argument {k!r}") for k, v in (kwargs or {}).items()}
        return args, kwargs

    def _convert(self, x, where: str):
        arrays = self.arrays
        if isinstance(x, float):  # a float may be observed data: a 0-d array of the precision
            return arrays.asarray(x)
        if x is None or arrays.is_array(x) or isinstance(x, (bool, int, str)):
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
            return arrays.asarray(array)
        if array.dtype.kind in "US" and isinstance(x, list):
            return x
        raise ModelError(
            f"The model's {where} could not be converted to a numeric array: numpy made "
            f"dtype {array.dtype} of shape {array.shape} from it (a ragged or mixed list?). "
            "Pass a numpy array of numbers of one shape."
        )
