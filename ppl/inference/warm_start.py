"""The warm start every algorithm that begins from a point or a base distribution shares: the
MAP point and the Laplace approximation there, with a robust fallback when that start is
degenerate.

``laplace_start`` returns a ``WarmStart``, the affine map ``z = shift + factor @ u`` under
which the posterior is roughly ``N(0, I)`` in ``u``:

1. the MAP point ``m`` in unconstrained space (``ppl.inference.optimize.find_map``, L-BFGS);
2. ``factor = cholesky(H^-1)`` for the Hessian ``H`` of the potential at ``m`` when the
   dimension is at most ``max_dense_dim``; above it, the diagonal ``H_ii^-1/2``, stored as a
   vector, ``H_ii`` from Hutchinson's estimator with its floor (``floored_curvature``, the
   one SG-MCMC's ``step_size="auto"`` uses: ``2 HUTCHINSON_PROBES`` gradients whatever the
   dimension);
3. the safeguards of a degenerate start. A scale at its boundary (the neck of a centred
   hierarchical model's funnel, where the potential is unbounded below as the scale goes to 0
   and the MAP search runs down it) shows as a Hessian with a direction of zero or negative
   curvature or with eigenvalues spanning more than ``MAX_SPAN`` orders of the precision
   (there the factor means nothing); a MAP point or Hessian that is not finite is the third
   case. Then the start falls back to the prior's median with mean-field VI from there
   (``ppl.inference.q0``, the start every diffusion used before), a diagonal
   factor, and ``WarmStart.fallback`` names the reason (``REASONS``; ``describe`` says it in
   words);
4. a check of the Laplace approximation against the target: ``CHECK_DRAWS`` draws from it,
   importance-weighted. The joint MAP of a hierarchical model can sit far from the bulk of the
   posterior (eight schools, non-centred: ``tau`` ~ 29 at the MAP, ~ 3.6 in the mean), where
   the Laplace approximation is narrow and misplaced. When its draws' effective fraction is
   below ``MIN_LAPLACE_ESS``, the fallback is fitted too and the start with the higher ELBO
   (the same draws for both) is kept: the last reason of ``REASONS`` when it is the fallback.

The algorithms keep the ``WarmStart`` in their state (a tree of arrays), and work in ``u``:
``to_target`` maps ``u`` to ``z``, ``from_target`` back, and ``potential_and_grad`` gives the
potential in ``u``, ``U(shift + factor u) - log|det factor|`` (the same normaliser ``Z``).

>>> import ppl
>>> from ppl import dist
>>> from ppl.inference.warm_start import laplace_start, describe
>>> def model():
...     ppl.sample("x", dist.Normal(3.0, 0.5).expand([2]).to_event(1))
>>> backend = ppl.get_backend("numpyro")
>>> start = laplace_start(backend.problem(model), backend.key(0))
>>> [round(float(v), 2) for v in start.shift], round(float(start.factor[0, 0]), 2)
([3.0, 3.0], 0.5)
>>> describe(start)
'Laplace approximation at the MAP point (dense factor)'
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import PPLError
from .compiled import compiled
from .whitened import (
    WarmStart,
    from_target,
    potential,
    potential_and_grad,
    to_target,
)

__all__ = [
    "MAX_DENSE_DIM",
    "MAX_SPAN",
    "REASONS",
    "WarmStart",
    "describe",
    "floored_curvature",
    "hutchinson_curvature",
    "from_target",
    "laplace_start",
    "potential",
    "potential_and_grad",
    "to_target",
]

#: the largest dimension for which the Laplace factor is dense (a full Hessian)
MAX_DENSE_DIM = 1000
#: the largest ratio of the Hessian's eigenvalues (the variances' ratio) trusted, by the
#: precision's bytes: beyond it the small eigenvalues are round-off (float32 resolves ~1e-7 of
#: the largest) or the MAP search ran down a funnel's neck
MAX_SPAN = {4: 1e8, 8: 1e12}
#: ``WarmStart.fallback`` codes: why the Laplace start was replaced by the robust one
REASONS = (
    "none",
    "the MAP point or the Hessian there is not finite",
    "the Hessian has a direction of zero or negative curvature (a scale at its boundary?)",
    "the Hessian's eigenvalues span more orders than the precision resolves",
    "the Laplace approximation at the MAP point fits the posterior worse (a lower ELBO, few "
    "effective importance draws): the MAP point is far from the posterior's bulk",
)
#: draws from the Laplace approximation that check it against the target (importance weights)
CHECK_DRAWS = 256
#: below this effective fraction of the check's draws the fallback is fitted and compared
MIN_LAPLACE_ESS = 0.2
#: mean-field VI of the fallback: Adam steps, learning rate and draws per step
FALLBACK_STEPS = 300
FALLBACK_LR = 0.05
FALLBACK_BATCH = 64
#: Rademacher probes of ``hutchinson_curvature`` (two full-data gradients each): on the
#: 2,082-weight BNN of ``tests/inference/test_sgmcmc_scale.py`` 64 probes put 80% of the
#: coordinates within a factor 2 of the exact ``H_ii`` (median ratio 1.00), 8% non-positive
HUTCHINSON_PROBES = 64


def _eigh(problem, z):
    backend = problem.backend
    # compiled with the data as arguments: a second start on data of the same shapes is free
    hessian = compiled(problem, "hessian", lambda p: p.backend.hessian(p.potential))(z)
    hessian = np.asarray(backend.to_numpy(hessian), np.float64)
    hessian = 0.5 * (hessian + hessian.T)
    if not np.isfinite(hessian).all():
        return np.full(len(hessian), np.nan), np.eye(len(hessian))
    return np.linalg.eigh(hessian)


def _cholesky_inverse(values, vectors) -> np.ndarray:
    covariance = (vectors / values) @ vectors.T
    return np.linalg.cholesky(0.5 * (covariance + covariance.T))


def hutchinson_curvature(problem, z, key, num_probes: int = HUTCHINSON_PROBES):
    """``(estimate, standard_error)`` of ``H_ii``: ``mean_k v_k * (H v_k)_i`` over
    ``num_probes`` Rademacher probes ``v_k`` drawn from ``key`` (Hutchinson's diagonal
    estimator; Bekas, Kokiopoulou & Saad 2007), each Hessian-vector product a central
    difference of two full-data gradients, and the standard error of that mean from the
    probes' spread.

    Unbiased, at ``2 num_probes`` gradients whatever the dimension, where the exact diagonal by
    central differences takes ``2 dim``. The difference step is per coordinate,
    ``h_i = eps^(1/3) max(1, |z_i|)``: the probe ``h * v`` is divided back out, so the estimate
    of ``H_ii`` stays unbiased, with a variance per coordinate of
    ``sum_{j != i} (H_ij h_j / h_i)^2 / num_probes`` (``sum_{j != i} H_ij^2 / num_probes`` where
    every ``|z_j| <= 1``): a coordinate whose off-diagonal couplings outweigh its own curvature
    can come out small, zero or negative (the standard error says which ones;
    ``floored_curvature`` floors them).

    >>> import ppl
    >>> from ppl import dist
    >>> def model():
    ...     ppl.sample("x", dist.Normal(0.0, ppl.ops.asarray([0.5, 2.0])).to_event(1))
    >>> backend = ppl.get_backend("numpyro")
    >>> problem = backend.problem(model)
    >>> estimate, error = hutchinson_curvature(problem, np.zeros(2), backend.key(0))
    >>> [round(float(c), 2) for c in estimate], [round(float(e), 2) for e in error]
    ([4.0, 0.25], [0.0, 0.0])
    """
    backend = problem.backend
    value_and_grad = compiled(problem, "value_and_grad", lambda p: p.value_and_grad)
    eps = np.finfo(np.float32 if _bytes(problem) == 4 else np.float64).eps
    z = np.asarray(z, np.float64)
    steps = eps ** (1 / 3) * np.maximum(1.0, np.abs(z))
    uniform = backend.to_numpy(backend.uniform(key, (num_probes, len(z))))
    probes = np.where(np.asarray(uniform) < 0.5, -1.0, 1.0)
    total, squares = np.zeros(len(z)), np.zeros(len(z))
    for v in probes:
        plus = value_and_grad(backend.asarray(z + steps * v))[1]
        minus = value_and_grad(backend.asarray(z - steps * v))[1]
        hv = np.asarray(backend.to_numpy(plus), np.float64) - np.asarray(
            backend.to_numpy(minus), np.float64
        )
        term = v * hv / (2 * steps)
        total, squares = total + term, squares + term * term
    mean = total / num_probes
    spread = (
        np.maximum(squares / num_probes - mean * mean, 0.0) * num_probes / max(1, num_probes - 1)
    )
    return mean, np.sqrt(spread / num_probes)


def floored_curvature(problem, z, key, num_probes: int = HUTCHINSON_PROBES):
    """``(curvature, negative)``: ``H_ii`` at ``z`` for a diagonal Laplace factor, from
    ``hutchinson_curvature`` (``num_probes`` probes from ``key``), floored so that every
    coordinate gets a usable scale. ``negative``: the coordinates whose estimate lies more
    than two standard errors below zero (a direction of negative curvature, not the
    estimator's noise; ``laplace_start`` falls back there).

    An estimate within two standard errors of zero says only that the curvature is at most a
    few errors: it takes two errors (too high a curvature slows that coordinate; too low, as
    noise makes it, gives it a scale far too wide and a sampler's whole chain a smaller step).
    Where that is still zero or not finite (a MAP search stopped short of a mode, an exactly
    flat direction), the median positive curvature of the same site (``_fill_curvature``).
    All NaN where no coordinate has a positive finite curvature."""
    estimate, error = hutchinson_curvature(problem, z, key, num_probes)
    negative = estimate < -2.0 * error
    curvature = np.where(np.isfinite(estimate), np.maximum(estimate, 2.0 * error), np.nan)
    return _fill_curvature(curvature, problem.layout.sizes), negative


def _fill_curvature(curvature, sizes) -> np.ndarray:
    """``curvature`` with its zero, negative or non-finite entries replaced by the median
    positive curvature of the same site (``sizes``: the sites' sizes in the flat layout, in
    order), or of all sites where that site has none; all NaN where none is positive. A site's
    coordinates share their prior's scale (a layer's weights), where the median over all sites
    mixes layers whose curvatures differ by orders (a wide output layer's prior alone is
    ``width``): on the 2,082-weight BNN of ``tests/inference/test_sgmcmc_scale.py`` the global
    median left the whitened Hessian's stiffest direction at ~370 and the chain nearly still."""
    usable = np.isfinite(curvature) & (curvature > 0)
    if not usable.any():
        return np.full(len(curvature), np.nan)
    out, first = np.array(curvature, dtype=np.float64), 0
    overall = np.median(curvature[usable])
    for size in sizes:
        part, ok = slice(first, first + size), usable[first : first + size]
        out[part] = np.where(ok, out[part], np.median(out[part][ok]) if ok.any() else overall)
        first += size
    return out


def _bytes(problem) -> int:
    return int(np.dtype(problem.backend.to_numpy(problem.backend.asarray(0.0)).dtype).itemsize)


def _laplace(problem, z: np.ndarray, max_dense_dim: int, key):
    """``(factor, reason)``: the Laplace factor at ``z`` (dense or a diagonal vector) and 0, or
    ``None`` and the index of the reason in ``REASONS`` it cannot be trusted; ``key``: the
    start's key (the diagonal estimate's probes take ``split(key, 3)[2]``, as SG-MCMC's
    diagonal start does; the dense path draws nothing, so splits nothing)."""
    span_limit = MAX_SPAN[_bytes(problem)]
    if problem.dim <= max_dense_dim:
        values, vectors = _eigh(problem, problem.backend.asarray(z))
        negative = False
    else:
        probe_key = problem.backend.split(key, 3)[2]
        (values, below), vectors = floored_curvature(problem, z, probe_key), None
        negative = bool(below.any())
    if not np.isfinite(values).all():
        return None, 1
    if negative or values.min() <= 0:
        return None, 2
    if values.max() / values.min() > span_limit:
        return None, 3
    if vectors is None:
        return 1.0 / np.sqrt(values), 0
    return _cholesky_inverse(values, vectors), 0


def laplace_start(
    problem,
    key,
    *,
    max_dense_dim: int = MAX_DENSE_DIM,
    map_iterations: int = 1000,
    fallback_steps: int = FALLBACK_STEPS,
    fallback_lr: float = FALLBACK_LR,
    batch_size: int = FALLBACK_BATCH,
) -> WarmStart:
    """The ``WarmStart`` of ``problem``: the Laplace approximation at the MAP point, or the
    robust fallback when that start is degenerate (see the module's docstring).

    Parameters
    ----------
    problem : Problem
        The target.
    key
        A backend key; the MAP search starts from ``key`` as ``find_map`` does.
    max_dense_dim : int
        The largest dimension with a dense factor; above it the factor is diagonal.
    map_iterations : int
        L-BFGS iterations per start of the MAP search.
    fallback_steps, fallback_lr, batch_size : int, float, int
        The fallback's mean-field VI: Adam steps, learning rate, draws per step.
    """
    from . import q0
    from .optimize import find_map, potential_value

    backend = problem.backend
    begin = time.perf_counter()
    try:
        z = np.asarray(backend.to_numpy(find_map(problem, key, map_iterations)), np.float64)
    except PPLError:
        raise
    except Exception as err:  # Pyro's validation raises where NumPyro returns NaN
        raise q0.failure("MAP search of the warm start (warm_start=False skips it)", err) from err
    # the MAP search's compiled potential: no op-by-op run of the model
    finite = np.isfinite(z).all() and np.isfinite(potential_value(problem, z))
    factor, reason = _laplace(problem, z, max_dense_dim, key) if finite else (None, 1)

    def fallback():
        fallback_key = backend.split(backend.split(key)[1])[0]
        loc, log_scale = q0.initial(
            problem,
            fallback_key,
            "vi",
            vi_steps=fallback_steps,
            vi_lr=fallback_lr,
            batch_size=batch_size,
        )
        scale = np.exp(np.asarray(backend.to_numpy(log_scale), np.float64))
        loc = np.asarray(backend.to_numpy(loc), np.float64)
        return loc, np.diag(scale) if problem.dim <= max_dense_dim else scale

    if factor is None:
        z, factor = fallback()
    else:
        noise = np.asarray(backend.to_numpy(_check_noise(problem, key)))
        elbo, ess = _importance_check(problem, z, factor, noise)
        if ess < MIN_LAPLACE_ESS:
            loc, scale = fallback()
            if _importance_check(problem, loc, scale, noise)[0] > elbo:
                z, factor, reason = loc, scale, len(REASONS) - 1
    return _warm_start(backend, z, factor, reason, time.perf_counter() - begin)


def _check_noise(problem, key):
    """The check's ``(CHECK_DRAWS, dim)`` standard normal draws, from the key
    ``split(split(key)[1])[1]``: one program compiled once (not each operation on its own)."""

    def build(p):
        backend = p.backend
        return lambda k: backend.normal(backend.split(backend.split(k)[1])[1], (CHECK_DRAWS, p.dim))

    return compiled(problem, "warm-check-noise", build, once=True)(key)


def _warm_start(backend, shift, factor, reason: int, seconds: float) -> WarmStart:
    if factor.ndim == 2:
        inverse = np.linalg.inv(factor)
        log_det = np.log(np.diag(factor)).sum()
    else:
        inverse, log_det = 1.0 / factor, np.log(factor).sum()
    return WarmStart(
        backend.asarray(shift),
        backend.asarray(factor),
        backend.asarray(inverse),
        backend.asarray(log_det),
        backend.asarray(seconds),
        backend.asarray(np.asarray(reason, dtype=np.int32)),
    )


def _importance_check(problem, shift, factor, noise) -> tuple[float, float]:
    """``(ELBO, effective fraction)`` of the Gaussian ``shift + factor @ noise`` as an
    importance proposal for the target, from the draws ``noise`` (``(n, dim)``, ``N(0, I)``):
    the mean log-weight (up to the constant both candidates share) and ``ESS / n``."""
    backend = problem.backend
    z = shift + (noise * factor if factor.ndim == 1 else noise @ factor.T)
    log_det = np.log(np.abs(np.diag(factor) if factor.ndim == 2 else factor)).sum()
    # compiled with the data as arguments: a second start on data of the same shapes is free
    batched = compiled(problem, "warm-check", lambda p: p.backend.vmap(p.potential))
    u = np.asarray(backend.to_numpy(batched(backend.asarray(z))), np.float64)
    log_w = -u + 0.5 * np.sum(noise**2, axis=1) + log_det
    log_w = np.where(np.isfinite(log_w), log_w, -np.inf)
    if not np.isfinite(log_w).any():
        return -np.inf, 0.0
    w = np.exp(log_w - log_w.max())
    finite = log_w[np.isfinite(log_w)]
    elbo = finite.mean() if len(finite) == len(log_w) else -np.inf
    return float(elbo), float(w.sum() ** 2 / (w**2).sum() / len(w))


def describe(start: WarmStart) -> str:
    """The start in words: Laplace (dense or diagonal), or the fallback and its reason."""
    reason = int(start.fallback)
    if reason:
        return f"fallback to mean-field VI from the prior's median: {REASONS[reason]}"
    kind = "dense" if len(start.factor.shape) == 2 else "diagonal"
    return f"Laplace approximation at the MAP point ({kind} factor)"
