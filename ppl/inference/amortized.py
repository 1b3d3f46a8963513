"""Amortized inference: local latent sites under minibatches, fitted by ``svi``.

A model with one latent site per data point inside a subsampled ``ppl.plate`` (a VAE's code
``z_i``, a group's effect) cannot be held in a flat parameter vector: ``svi`` fits it with a
guide function whose encoder (a ``ppl.module``) maps the minibatch's data to its local
latents' parameters, through the backend's own SVI. Each step runs the model and the guide on
a minibatch of ``B`` of the ``N`` data points (``batch_size``), and the objective is scaled by
``N / B``, as Pyro and NumPyro do: ``elbo``, ``meanfield_elbo`` and ``tracegraph_elbo`` are the
backends' own ELBOs, whose plates scale every site; ``iwae``, ``renyi`` and ``chi2`` are
per-data-point bounds, ``N / B`` times their sum over the minibatch
(``ppl.core.local_vi``). ``chi2`` trains a model's parameters too (a VAE's decoder): the encoder
minimizes the CUBO and the decoder maximizes the IWAE bound of the same draws.

>>> import numpy as np, ppl
>>> from ppl import dist
>>> x = np.linspace(-2.0, 2.0, 40)
>>> def model(x):
...     with ppl.plate("data", 40) as idx:
...         z = ppl.sample("z", dist.Normal(0.0, 1.0))
...         ppl.sample("x", dist.Normal(z, 1.0), obs=x[idx])
>>> def guide(x):
...     a, b = ppl.param("a", 0.0), ppl.param("b", 0.0)
...     with ppl.plate("data", 40) as idx:
...         ppl.sample("z", dist.Normal(a * x[idx] + b, 0.7))
>>> post = ppl.infer(model, "svi", args=(x,), guide=guide, batch_size=10, num_steps=1000,
...                  lr=0.05, tol=0, progress=False, backend="numpyro")
>>> round(float(post.params["a"]), 1)   # the exact posterior mean is x / 2
0.5
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from ..core import minibatch_sizes, plate_subsample_sizes
from ..core.local_vi import LOCAL_OBJECTIVES
from ..errors import OptionError, ShapeError

__all__ = [
    "HeldOutLL",
    "LOCAL_OBJECTIVES",
    "held_out_log_likelihood",
    "check_batch_size",
    "check_local",
    "check_shapes",
    "local_plate",
    "minibatched",
]

#: objectives that the backends' own ELBOs scale correctly with local latents (linear in the
#: log-densities, so each plate's ``N / B`` applies site by site)
NATIVE_OBJECTIVES = ("elbo", "meanfield_elbo", "tracegraph_elbo")


def check_batch_size(batch_size) -> None:
    """An ``OptionError`` unless ``batch_size`` is ``None``, a positive int or a mapping of
    plate name to a positive int."""
    if batch_size is None:
        return
    values = batch_size.values() if isinstance(batch_size, Mapping) else [batch_size]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
        raise OptionError(
            f"batch_size must be a positive int or a dict {{plate: positive int}}, got "
            f"{batch_size!r}."
        )


def check_local(problem, options) -> None:
    """The options that can fit a problem with local latent sites: a guide function (an
    amortized one), and a named objective; an ``OptionError`` naming the site otherwise."""
    if not problem.local_sites:
        return
    name, plate = next(iter(problem.local_sites.items()))
    if not callable(options.guide):
        raise OptionError(
            f"Latent site {name!r} lies inside the subsampled plate {plate!r} (a local latent, "
            f"one per data point), which the autoguide {options.guide!r} cannot hold. Pass "
            "guide=<a guide function> whose encoder (ppl.module) maps the minibatch's data to "
            f"the parameters of {name!r}, under the same ppl.plate({plate!r}, ...)."
        )
    if not isinstance(options.objective, str) or options.objective not in (
        NATIVE_OBJECTIVES + LOCAL_OBJECTIVES
    ):
        raise OptionError(
            f"With local latent sites ({name!r} in plate {plate!r}), the objective must be one "
            f"of {NATIVE_OBJECTIVES + LOCAL_OBJECTIVES}, not {options.objective!r}."
        )


def check_shapes(problem, options) -> None:
    """A ``ShapeError`` naming the site when a guide function draws a latent site of another
    shape than the model's distribution there (an encoder whose output does not fit the local
    site would otherwise broadcast silently against the model's log-density)."""
    if not callable(options.guide):
        return
    from .. import handlers

    args, kwargs = problem.args, problem.kwargs
    with problem.backend.param_scope():  # no parameter of an earlier run leaks in
        guide_trace = handlers.trace(handlers.seed(options.guide, rng_seed=0)).get_trace(
            *args, **kwargs
        )
        # the model on its own draws (the guide's may not fit it): plates of the same sizes
        model_trace = handlers.trace(handlers.seed(problem.model, rng_seed=1)).get_trace(
            *args, **kwargs
        )
    for name, site in model_trace.sample_sites(observed=False).items():
        drawn = guide_trace.get(name)
        if drawn is None:
            continue
        want, got = tuple(site.fn.shape()), tuple(drawn.value.shape)
        if want != got:
            where = problem.local_sites.get(name)
            local = f" (a local latent in plate {where!r})" if where else ""
            raise ShapeError(
                f"The guide draws site {name!r}{local} with shape {got}, but the model's "
                f"distribution there has shape {want}: the two would broadcast silently. Make "
                f"the guide's distribution for {name!r} (its encoder's output) of shape {want}: "
                "check the encoder's output size and the .to_event(...) of the guide's site."
            )


def local_plate(problem) -> tuple[str, int] | None:
    """``(plate, size)`` of the problem's local latent sites (``None`` without any); an
    ``OptionError`` when they lie in different subsampled plates."""
    plates = set(problem.local_sites.values())
    if not plates:
        return None
    if len(plates) > 1:
        raise OptionError(
            f"The local latent sites lie in different subsampled plates {sorted(plates)}; svi "
            "fits local latents of one subsampled plate. Nest the plates under one."
        )
    (plate,) = plates
    return plate, problem.subsample_plates[plate][0]


def minibatched(model, options, problem):
    """``(model, options)`` with the minibatch sizes of ``options.batch_size`` in effect
    whenever the model and a guide function run (so they draw the same subsample: the
    backends replay the guide's plate indices in the model)."""
    sizes = minibatch_sizes(options.batch_size)
    if not sizes:
        return model, options
    model = _with_sizes(model, sizes)
    if callable(options.guide):
        import dataclasses

        options = dataclasses.replace(options, guide=_with_sizes(options.guide, sizes))
    return model, options


def _with_sizes(fn, sizes):
    @functools.wraps(fn)
    def subsampled(*args, **kwargs):
        with plate_subsample_sizes(sizes, keep_outer=True):
            return fn(*args, **kwargs)

    return subsampled


class HeldOutLL(NamedTuple):
    """A held-out marginal log-likelihood: ``mean`` per data point (nats), its ``stderr`` over
    the data points, and the ``per_item`` estimates ``log p(x_i)``."""

    mean: float
    stderr: float
    per_item: np.ndarray

    def __repr__(self) -> str:
        return f"HeldOutLL(mean={self.mean:.3f}, stderr={self.stderr:.3f}, n={len(self.per_item)})"


def held_out_log_likelihood(
    model, guide, params, args=(), kwargs=None, *, num_particles=1000, backend=None, seed=0
) -> HeldOutLL:
    """The marginal log-likelihood of held-out data under an amortized model, by importance
    sampling with its trained encoder (Burda et al. 2016's estimate).

    For each data point ``x_i`` of the model's local-latent plate, ``log p(x_i) ~ log mean_k
    p(x_i, z_ik) / q(z_ik | x_i)`` over ``num_particles`` draws ``z_ik`` of the guide; a lower
    bound in expectation that tightens as ``num_particles`` grows. Sites outside the plate
    are refused (a ``ppl.param`` is fixed at ``params``).

    Parameters
    ----------
    model, guide : callable
        The model and the (amortized) guide function, as fitted by ``svi``.
    params : dict
        The fitted parameters (``Posterior.params``).
    args, kwargs
        The held-out data, as the model takes it (no subsampling: every data point).
    num_particles : int
        Draws per data point (1,000 by default).
    backend : str, optional
        The backend (default: the active one).
    seed : int
        Seed of the draws.

    Returns
    -------
    HeldOutLL
        The mean over data points, its standard error (the spread over data points, over
        ``sqrt(n)``), and the per-point estimates.
    """
    from ..backends import backend as backend_scope
    from ..backends import get_backend

    chosen = get_backend(backend)
    with backend_scope(chosen.name):
        return _held_out(chosen, model, guide, params, args, kwargs, num_particles, seed)


def _held_out(chosen, model, guide, params, args, kwargs, num_particles, seed) -> HeldOutLL:
    args, kwargs = chosen.convert_args(args, kwargs)
    plates = _plates_of_local_sites(chosen, model, args, kwargs)
    if len(plates) != 1:
        raise OptionError(
            "held_out_log_likelihood needs the local latent sites in one ppl.plate; found "
            f"{sorted(plates) or 'none'}."
        )
    lw = chosen.local_log_weights(
        model, guide, params, args, kwargs, num_particles, plates.pop(), seed
    )
    top = lw.max(axis=0)
    per_item = top + np.log(np.mean(np.exp(lw - top), axis=0))
    n = len(per_item)
    stderr = float(per_item.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    return HeldOutLL(float(per_item.mean()), stderr, per_item)


def _plates_of_local_sites(backend, model, args, kwargs) -> set:
    """The innermost plates of the latent sites of ``model``, seen in one seeded trace."""
    from .. import handlers

    with backend.param_scope():
        tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace(*args, **kwargs)
    return {site.plates[-1] for site in tr.sample_sites(observed=False).values() if site.plates}
