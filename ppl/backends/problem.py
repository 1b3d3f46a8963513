"""``Problem``: a model program seen as a flat unconstrained vector space, written once.

Each backend builds the pieces that touch its library (the potential, the transforms, the prior
draw); the layout of the flat vector, initialisation and batching of ``constrain`` live here.

>>> import ppl
>>> from ppl import dist
>>> def model():
...     ppl.sample("scale", dist.HalfNormal(1.0))
...     ppl.sample("loc", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
>>> problem = ppl.get_backend("numpyro").problem(model)
>>> problem.dim, problem.layout.names
(3, ('scale', 'loc'))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..errors import ModelError, ShapeError
from .base import to_numpy_any

__all__ = [
    "FlatLayout",
    "Problem",
    "check_enumerable",
    "check_observed_shape",
    "enumerated_sites",
    "integer_bounds",
    "latent_sites",
    "local_latent_sites",
    "max_plate_nesting",
    "observed_values",
]


class FlatLayout(NamedTuple):
    """Where each latent site lives in the flat unconstrained vector ``z``."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(math.prod(shape) for shape in self.shapes)

    @property
    def dim(self) -> int:
        return sum(self.sizes)

    def unravel(self, z, xp) -> dict:
        """Split ``z`` of shape ``(*batch, dim)`` into ``{name: (*batch, *shape) array}``."""
        out, start = {}, 0
        batch = tuple(z.shape[:-1])
        for name, shape, size in zip(self.names, self.shapes, self.sizes):
            out[name] = xp.reshape(z[..., start : start + size], batch + tuple(shape))
            start += size
        return out

    def ravel(self, values: Mapping, xp, batch_ndim: int = 0):
        """The inverse of ``unravel``: one array of shape ``(*batch, dim)``."""
        parts = []
        for name, shape in zip(self.names, self.shapes):
            value = values[name]
            batch = tuple(value.shape[:batch_ndim])
            parts.append(xp.reshape(value, batch + (math.prod(shape),)))
        return xp.concat(parts, axis=-1)


def check_observed_shape(name: str, value_shape, dist_shape, batch_shape) -> None:
    """Raise ``ShapeError`` when an observation would silently broadcast against its distribution.

    A distribution with a batch shape must see an observation of exactly its shape (under its
    plates); a distribution with an empty batch shape may observe any number of i.i.d. values.
    """
    value_shape, dist_shape = tuple(value_shape), tuple(dist_shape)
    if value_shape == dist_shape or not tuple(batch_shape):
        return
    raise ShapeError(
        f"Observed site {name!r}: the value has shape {value_shape} but its distribution has "
        f"shape {dist_shape} (batch {tuple(batch_shape)}) under its plates, so the two would "
        "broadcast silently. Reshape the observation, or fix the distribution's batch shape "
        "(.expand(...), .to_event(...), or the plate sizes)."
    )


def latent_sites(
    trace, subsample_plates, skip=(), data=None, discrete=False, allow_local=False
) -> list:
    """The latent sample sites of a backend's trace (a mapping of name to site dict), after
    checking that every site is one a ``Problem`` can represent. ``discrete``: keep discrete
    latent sites (for an algorithm that updates them itself) rather than refuse them.

    ``allow_local``: latent sites inside a subsampled plate (local latents, one per data point
    of a minibatch, as in a VAE) are left out of the list rather than refused
    (``local_latent_sites`` names them); only ``svi`` with a guide function fits them.

    ``data``: the model's arguments ``(args, kwargs)``. An observed value with NaN or inf (and
    no ``obs_mask``) is an error when it is data the user passed: a numpy array, or a model
    run on arguments that hold NaN or inf themselves. An observation computed from latent
    values (``obs=y - mu``) may overflow at the prototype's prior draw and is left to
    ``Problem.init``, which looks for a point where the density is finite.
    """
    latent = []
    data_non_finite = data is not None and _holds_non_finite(data)
    for name, site in trace.items():
        if site["type"] != "sample" or name in skip:
            continue
        fn = site["fn"]
        if site["is_observed"]:
            if not site["infer"].get("_deterministic", False):
                check_observation(name, site["value"], fn)
                user_data = data_non_finite or isinstance(site["value"], np.ndarray)
                if user_data and site.get("mask") is None:
                    check_finite_observation(name, site["value"])
            continue
        if site["infer"].get("is_auxiliary", False):
            continue
        if fn.support.is_discrete and not (
            discrete and site["infer"].get("enumerate") != "parallel"
        ):  # enumerated, or refused naming both fixes; gibbs keeps the others
            check_enumerable(name, site, subsample_plates)
            continue
        local = [f.name for f in site["cond_indep_stack"] if f.name in subsample_plates]
        if local and allow_local:
            continue
        if local:
            raise ModelError(
                f"Latent site {name!r} lies inside the subsampled plate {local[0]!r}: a flat "
                "parameter vector cannot hold a per-minibatch latent. Move it out of the "
                "subsampled plate or drop subsample_size."
            )
        latent.append(site)
    return latent


def check_enumerable(name: str, site, subsample_plates) -> None:
    """A ``ModelError`` unless the discrete latent ``site`` can be summed out by enumeration:
    marked ``infer={"enumerate": "parallel"}``, with a finite support, outside subsampled
    plates (a minibatch's ``N / B`` scale would apply to each enumerated term, not to the
    per-point marginal)."""
    fn = site["fn"]
    kind = type(fn).__name__
    if site["infer"].get("enumerate") != "parallel":
        raise ModelError(
            f"Latent site {name!r} is discrete ({kind}) and not enumerated, and this algorithm "
            "samples continuous sites only. Either sum it out exactly: mark it "
            f'ppl.sample({name!r}, ..., infer={{"enumerate": "parallel"}}); or sample it: '
            'ppl.infer(model, "gibbs", ...).'
        )
    if not getattr(fn, "has_enumerate_support", False):
        raise ModelError(
            f"Latent site {name!r} is marked for enumeration but its {kind} distribution has no "
            'finite support to enumerate. Sample it with ppl.infer(model, "gibbs", ...), or '
            "truncate it to a finite support (a Categorical over the values that matter)."
        )
    local = [f.name for f in site["cond_indep_stack"] if f.name in subsample_plates]
    if local:
        raise ModelError(
            f"Enumerated site {name!r} lies inside the subsampled plate {local[0]!r}: the "
            "minibatch scale would weight each enumerated term instead of the per-point "
            "marginal, which is not an unbiased estimate. Drop subsample_size (full-data "
            'gradients), or sample the site with ppl.infer(model, "gibbs", ...).'
        )


def enumerated_sites(trace) -> tuple[str, ...]:
    """The names of the latent sites of a backend's trace marked for parallel enumeration."""
    return tuple(
        name
        for name, site in trace.items()
        if site["type"] == "sample"
        and not site["is_observed"]
        and site["infer"].get("enumerate") == "parallel"
        and site["fn"].support.is_discrete
    )


def max_plate_nesting(trace) -> int:
    """How many plate dimensions the sample sites of a backend's trace use (as Pyro's and
    NumPyro's ``_guess_max_plate_nesting``): enumeration starts to the left of them."""
    dims = [
        frame.dim
        for site in trace.values()
        if site["type"] == "sample"
        for frame in site["cond_indep_stack"]
        if frame.dim is not None
    ]
    return -min(dims) if dims else 0


def integer_bounds(support, shape) -> tuple[np.ndarray, np.ndarray] | None:
    """``(low, high)``, float arrays of ``shape``, of a discrete ``support`` that takes every
    integer from ``low`` to ``high`` (``high`` is ``inf`` where unbounded), read from the
    constraint (``boolean``, ``integer_interval``, ``integer_greater_than`` on either backend,
    under ``independent``); ``None`` for any other (one-hot, multinomial)."""
    while hasattr(support, "base_constraint"):
        support = support.base_constraint
    if type(support).__name__ == "_Boolean":
        low, high = 0.0, 1.0
    elif hasattr(support, "lower_bound"):
        low, high = support.lower_bound, getattr(support, "upper_bound", math.inf)
    else:
        return None
    as_array = lambda v: np.broadcast_to(to_numpy_any(v).astype(float), tuple(shape)).copy()
    return as_array(low), as_array(high)


def local_latent_sites(trace, subsample_plates) -> dict[str, str]:
    """``{site: plate}``: the latent sample sites of a backend's trace inside a subsampled plate
    (the innermost such plate)."""
    out = {}
    for name, site in trace.items():
        if site["type"] != "sample" or site["is_observed"]:
            continue
        if site["infer"].get("is_auxiliary", False):
            continue
        local = [f.name for f in site["cond_indep_stack"] if f.name in subsample_plates]
        if local:
            out[name] = local[0]
    return out


def observed_values(trace, skip=()) -> dict:
    """``{site: numpy value}`` of the observed sample sites of a backend's trace."""
    return {
        name: to_numpy_any(site["value"])
        for name, site in trace.items()
        if site["type"] == "sample"
        and site["is_observed"]
        and name not in skip
        and not site["infer"].get("_deterministic", False)
    }


def check_observation(name: str, value, fn) -> None:
    """The shape of an observed value (``check_observed_shape``).

    Its finiteness is not checked here: an observation may be computed from latent values
    (``obs=y - mu`` in an ARMA model), so NaN or inf at the prototype's prior draw says nothing
    about the data (``latent_sites`` checks data; ``Problem.init`` names an observed site
    whose recorded value holds NaN or inf when no finite starting point is found).
    """
    check_observed_shape(name, tuple(getattr(value, "shape", ())), fn.shape(), fn.batch_shape)


def _holds_non_finite(tree) -> bool:
    """Whether any float array in ``tree`` (nested tuples, lists, dicts) holds NaN or inf."""
    if isinstance(tree, dict):
        return any(_holds_non_finite(v) for v in tree.values())
    if isinstance(tree, (tuple, list)):
        return any(_holds_non_finite(v) for v in tree)
    if not hasattr(tree, "shape") and not isinstance(tree, float):
        return False
    array = to_numpy_any(tree)
    return array.dtype.kind in "fc" and not np.isfinite(array).all()


def check_finite_observation(name: str, value) -> None:
    """A ``ModelError`` when the observed data ``value`` holds NaN or inf."""
    array = to_numpy_any(value)
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        count = int((~np.isfinite(array)).sum())
        raise ModelError(
            f"Observed site {name!r} has {count} NaN or inf value(s). Drop them, or keep them and "
            "pass obs_mask= (true where observed) to ppl.sample so they are ignored."
        )


def _non_finite_observations(observed: Mapping[str, Any], sites) -> str:
    """A sentence naming the observed ``sites`` whose recorded value holds NaN or inf."""
    found = []
    for name in sites:
        array = np.asarray(observed.get(name, 0.0))
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            found.append(f"{name!r} ({int((~np.isfinite(array)).sum())} of {array.size})")
    if not found:
        return ""
    return (
        f" Observed site(s) {', '.join(found)} hold NaN or inf value(s): if they are data, drop "
        "them, or keep them and pass obs_mask= (true where observed) to ppl.sample so they are "
        "ignored; if the observation is computed from latent values, that computation overflows."
    )


def _discrete_start(discrete) -> str:
    """A sentence on starting the discrete sites ``discrete`` (none: empty)."""
    if not discrete:
        return ""
    names = ", ".join(repr(name) for name in discrete)
    return (
        f" The discrete sites ({names}) start at prior draws, which may be impossible given the "
        "data (a positive count drawn as a structural zero): give them a valid start with "
        "init_values={site: value}."
    )


def _no_potential(local_sites) -> Callable:
    """The potential of a problem with local latent sites: an error naming them."""

    def potential(z, key=None):
        name, plate = next(iter(local_sites.items()))
        raise ModelError(
            f"Latent site {name!r} lies inside the subsampled plate {plate!r}: a flat parameter "
            "vector cannot hold a per-minibatch latent, so this algorithm cannot run the "
            "model. Fit it with ppl.infer(model, 'svi', guide=<a guide function, e.g. an "
            "encoder through ppl.module>, batch_size=...), or move the site out of the plate."
        )

    return potential


@dataclass(frozen=True, eq=False)
class Problem:
    """A model as a target density on a flat unconstrained vector space.

    ``potential(z, key=None)`` is the negative log joint (Jacobians of the transforms to
    unconstrained space included), with the ``enumerated`` discrete sites summed out. Given a
    ``key``, every ``ppl.plate(..., subsample_size=B)``
    draws a fresh minibatch from it (``B`` i.i.d. uniform indices, with replacement, when
    ``4 B <= N``; ``B`` distinct ones above) and scales its log-likelihood by ``N / B``, an
    unbiased estimate either way; without one the
    whole data set is used. ``constrain(z)`` maps ``z`` (any leading batch dimensions) to the
    model's site values, deterministic sites included.
    """

    backend: Any
    layout: FlatLayout
    potential: Callable
    constrain_one: Callable
    unconstrain: Callable
    sample_prior: Callable
    site_log_probs: Callable
    num_data: int | None = None
    subsample_plates: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    init_values: Mapping[str, Any] = field(default_factory=dict)
    #: observed site values, as numpy
    observed: Mapping[str, Any] = field(default_factory=dict)
    #: the model (bound to its backend) and its converted arguments, for native algorithms
    model: Callable | None = None
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    #: ``constrain_one`` over a batch ``(n, dim)``; the backend may give a faster one
    constrain_many: Callable | None = None
    #: ``(z, key=None) -> (potential, its gradient in z)``; the backend may give a faster one
    value_and_grad: Callable | None = None
    #: seconds the backend spent compiling (``compile=True``) or recording while it built it
    compile_seconds: float = 0.0
    #: ``(args, kwargs) -> Problem``: the same structure bound to other data of the same shapes
    #: (``with_data``); ``None`` where the backend cannot rebind without rebuilding
    rebind: Callable | None = field(default=None, repr=False)
    #: ``(z, key, part, num_parts) -> potential``: part ``part`` of ``num_parts`` of the
    #: minibatch that ``key`` draws (its ``part``-th contiguous slice of every subsampled
    #: plate's indices), plus ``1 / num_parts`` of every other term, so the parts sum to
    #: ``potential(z, key)``; ``None`` where the backend cannot split a minibatch
    part_potential: Callable | None = field(default=None, repr=False)
    #: ``(z, key, part, num_parts) -> potential`` of the device ``part`` of ``num_parts`` whose
    #: arguments hold only the ``part``-th contiguous block of every subsampled plate's rows:
    #: its own draw of ``B / num_parts`` rows of that block (scaled ``N / B``), plus
    #: ``1 / num_parts`` of every other term; ``stratified_potential(z, key, num_parts)`` is
    #: the sum of the parts on one device with the whole data (the same rows, in global
    #: indices). ``None`` where the backend cannot run a model on its shard of the data
    shard_potential: Callable | None = field(default=None, repr=False)
    stratified_potential: Callable | None = field(default=None, repr=False)
    #: the devices that share every minibatch (``ArrayBackend.data_parallel``), or ``None``
    parallel: Any = None
    #: the discrete sites summed out of ``potential`` by enumeration
    enumerated: tuple[str, ...] = ()
    #: ``(zs, key, temperature=1) -> {site: (n, *shape) array}``: a draw of each enumerated site
    #: from its conditional given each of the ``n`` points ``zs`` (``temperature=0``: the
    #: most probable joint assignment, Viterbi for a chain); ``None`` without enumerated sites
    sample_discrete: Callable | None = field(default=None, repr=False)
    #: discrete latent sites kept in the layout (``problem(..., discrete=True)``), last in it:
    #: ``{site: (low, high)}`` (``integer_bounds``, ``None`` where unknown). Their coordinates
    #: of ``z`` hold the values themselves (no transform, no Jacobian); the potential rounds
    #: them and holds them to the support, then conditions the model on them.
    discrete: Mapping[str, Any] = field(default_factory=dict)
    #: ``{site: plate}``: latent sites inside a subsampled plate (built with
    #: ``local_latents=True``); they are not in the flat vector, so ``potential`` is undefined
    local_sites: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.local_sites:
            object.__setattr__(self, "potential", _no_potential(self.local_sites))
        if self.constrain_many is None:
            object.__setattr__(self, "constrain_many", self.backend.vmap(self.constrain_one))
        if self.value_and_grad is None:
            object.__setattr__(self, "value_and_grad", self.backend.value_and_grad(self.potential))

    def with_data(self, args, kwargs) -> Problem:
        """This problem's structure (layout, plates, initial values) bound to the model
        arguments ``args``/``kwargs`` of the same shapes (arrays of a compiled function's
        arguments, say); the model is not run again."""
        if self.rebind is None:
            raise NotImplementedError(f"The {self.backend.name!r} problem cannot be rebound.")
        bound = self.rebind(args, kwargs)
        return dataclasses.replace(
            bound,
            model=self.model,
            init_values=self.init_values,
            observed=self.observed,
            parallel=self.parallel,
        )

    @property
    def arrays(self):
        """The array layer (an ``ArrayBackend``) of ``backend``: all an algorithm written over
        arrays needs besides this problem."""
        return self.backend.arrays

    @property
    def dim(self) -> int:
        """Length of the flat unconstrained vector."""
        return self.layout.dim

    @property
    def continuous_dim(self) -> int:
        """Length of the continuous head of ``z`` (all of it without ``discrete`` sites)."""
        sizes = dict(zip(self.layout.names, self.layout.sizes))
        return self.dim - sum(sizes[name] for name in self.discrete)

    def unravel(self, z) -> dict:
        """``{site: unconstrained value}`` from ``z``."""
        return self.layout.unravel(z, self.backend.xp)

    def init(self, key, strategy: str = "prior", max_tries: int = 100, value_and_grad=None):
        """An initial point with a finite potential and a finite gradient: a prior draw
        (``strategy="prior"``) or a uniform draw on (-2, 2) in unconstrained space
        (``"uniform"``, NumPyro's default for HMC); ``init_values`` override named sites.

        A gradient-based chain started where the gradient is NaN never moves (a float32 HMM's
        enumerated potential at some points), so such points are skipped, as NumPyro's
        ``find_valid_initial_params`` does. ``value_and_grad``: ``z -> (potential, gradient)``
        that checks each try, a compiled one where the caller holds it (default: this
        problem's own, which on JAX runs operation by operation). A ``ModelError`` naming the
        sites at fault, or the non-finite gradient, if no try passes."""
        check = self.value_and_grad if value_and_grad is None else value_and_grad
        keys = self.backend.split(key, max_tries)
        raised, nan_gradients = None, 0
        for attempt in range(max_tries):
            if strategy == "uniform":  # the key as the compiled MAP starts use it
                draw = self.backend.uniform(keys[attempt], (self.dim,), -2.0, 2.0)
                if self.discrete:  # the discrete sites' values from a prior draw
                    prior_key = self.backend.split(keys[attempt])[1]
                    tail = self.unconstrain(self.sample_prior(prior_key))[self.continuous_dim :]
                    draw = self.backend.xp.concat([draw[: self.continuous_dim], tail])
                values = {
                    k: v for k, v in self.constrain_one(draw).items() if k in self.layout.names
                }
            else:
                values = dict(self.sample_prior(keys[attempt]))
            values.update({k: v for k, v in self.init_values.items() if k in values})
            z = self.unconstrain(values)
            try:
                value, grad = check(z)
                if math.isfinite(float(value)):
                    if self.finite_gradient(grad):
                        return z
                    nan_gradients += 1
            except ValueError as err:  # a backend that validates values (Pyro) raises on NaN
                if not _non_finite_observations(self.observed, self.observed):
                    raise
                raised = err
            if self.init_values and all(n in self.init_values for n in self.layout.names):
                break
        if nan_gradients:
            raise ModelError(
                f"The model's log density is finite at {nan_gradients} of {attempt + 1} initial "
                "points but its gradient is not (NaN or inf) at any of them, so a gradient-based "
                "chain started there would never move. In float32 a long sum (an enumerated "
                "chain, say) can lose its gradient: run in float64 "
                "(ppl.set_precision('float64')); or give a start with init_values={site: value}."
            )
        if raised is None:
            bad = [name for name, lp in self.site_log_probs(z).items() if not math.isfinite(lp)]
        else:  # the backend refused the observed values themselves
            bad = [
                name for name in self.observed if _non_finite_observations(self.observed, [name])
            ]
        raise ModelError(
            f"The model's log density is not finite at any of {attempt + 1} initial points "
            f"(non-finite log_prob at sites {bad or 'unknown'}). Check those sites' parameters "
            "and observed values for NaN, values outside the support, or a scale of zero."
            + _non_finite_observations(self.observed, bad)
            + _discrete_start(self.discrete)
        ) from raised

    def finite_gradient(self, grad) -> bool:
        """Whether a gradient of the potential is finite in the continuous coordinates (the
        discrete ones, held in ``z`` as values, have none)."""
        grad = np.asarray(self.backend.to_numpy(grad), dtype=float)
        return bool(np.isfinite(grad[: self.continuous_dim]).all())

    def constrain(self, z) -> dict:
        """``{site: constrained value}`` for ``z`` of shape ``(*batch, dim)``."""
        if len(z.shape) == 1:
            return self.constrain_one(z)
        batch = tuple(z.shape[:-1])
        flat = self.backend.xp.reshape(z, (math.prod(batch), z.shape[-1]))
        values = self.constrain_many(flat)
        xp = self.backend.xp
        return {k: xp.reshape(v, batch + tuple(v.shape[1:])) for k, v in values.items()}
