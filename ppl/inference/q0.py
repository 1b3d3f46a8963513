"""The diffusion samplers' starting distribution ``q0``: a diagonal Gaussian on the flat
unconstrained space, and its three initialisations.

- ``"standard"``: ``N(0, I)``;
- ``"prior"``: the median and the scaled median absolute deviation (the mean and standard
  deviation for a normal law, robust to heavy tails) of prior draws in unconstrained space;
- ``"vi"``: the ``"prior"`` Gaussian refined by mean-field VI, ``vi_steps`` Adam steps on the
  reverse KL (the negative ELBO, reparameterised, ``batch_size`` draws per step).

``init_scale`` multiplies the initial standard deviation in each case. With a warm start
(``ppl.inference.warm_start.WarmStart``), ``q0`` lives in its whitened coordinates ``u``:
``"standard"`` is the Laplace approximation itself, ``"vi"`` refines it by mean-field VI on the
whitened target, and ``"prior"`` takes the moments of the prior draws mapped to ``u`` (as broad
as the prior: a start that covers modes the Laplace approximation at one of them misses).

>>> import ppl
>>> from ppl import dist
>>> from ppl.inference import q0
>>> def model():
...     ppl.sample("x", dist.Normal(3.0, 0.5))
>>> backend = ppl.get_backend("numpyro")
>>> problem = backend.problem(model)
>>> loc, log_scale = q0.initial(problem, backend.key(0), "vi", vi_steps=300, vi_lr=0.05,
...                             batch_size=64)
>>> round(float(loc[0]), 1), round(float(backend.xp.exp(log_scale[0])), 1)
(3.0, 0.5)
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..errors import ModelError, PPLError
from . import compiled
from . import whitened as warm_start
from .whitened import batched_potential_and_grad as potential_and_grad

__all__ = [
    "INITS",
    "check_start",
    "cover_modes",
    "failure",
    "grad_potential",
    "initial",
    "log_prob",
    "moments",
    "potential_and_grad",
    "sample",
]

INITS = ("vi", "prior", "standard")
#: prior draws used to estimate the prior's moments
NUM_PRIOR_DRAWS = 128
#: the standard deviation of a normal law over its median absolute deviation
MAD_TO_SD = 1.4826
#: draws from the initial ``q0`` at which the target's log density is checked
NUM_CHECK_DRAWS = 64


def _log_components(xp, loc, log_scale, x):
    """``log N(x | loc_m, diag(exp(log_scale_m))^2)`` per component, over a last axis of
    length ``M`` (``loc`` of shape ``(M, dim)``), and the residuals ``(x - loc_m) / scale_m^2``."""
    x = x[..., None, :]
    r = (x - loc) * xp.exp(-log_scale)
    log_n = xp.sum(-0.5 * r**2 - log_scale, axis=-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)
    return log_n, (x - loc) * xp.exp(-2.0 * log_scale)


def log_prob(xp, loc, log_scale, x):
    """``log q0(x)``, summed over the last axis: ``log N(x | loc, diag(exp(log_scale))^2)``, or
    for ``loc`` and ``log_scale`` of shape ``(M, dim)`` the equal-weight mixture of ``M`` such
    Gaussians (``cover_modes``)."""
    if loc.ndim == 1:
        r = (x - loc) * xp.exp(-log_scale)
        return xp.sum(-0.5 * r**2 - log_scale, axis=-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)
    log_n, _ = _log_components(xp, loc, log_scale, x)
    top = xp.max(log_n, axis=-1, keepdims=True)
    return (xp.log(xp.sum(xp.exp(log_n - top), axis=-1)) + top[..., 0]) - math.log(loc.shape[0])


def grad_potential(xp, loc, log_scale, x):
    """``-grad log q0(x)``: ``(x - loc) / scale^2``, or for a mixture the components' terms
    weighted by their responsibilities."""
    if loc.ndim == 1:
        return (x - loc) * xp.exp(-2.0 * log_scale)
    log_n, residuals = _log_components(xp, loc, log_scale, x)
    weights = xp.exp(log_n - xp.max(log_n, axis=-1, keepdims=True))
    weights = weights / xp.sum(weights, axis=-1, keepdims=True)
    return xp.sum(weights[..., None] * residuals, axis=-2)


def sample(backend, loc, log_scale, key, num: int):
    """``num`` reparameterised draws ``loc + scale * noise``, shape ``(num, dim)``; for a
    mixture, draw ``i`` from component ``i mod M`` (stratified: each component gets its share
    exactly, which keeps ``mean(w)`` unbiased for ``Z`` with less variance)."""
    xp, dim = backend.xp, loc.shape[-1]
    if loc.ndim == 2:
        index = xp.asarray(np.arange(num) % loc.shape[0])
        loc, log_scale = xp.take(loc, index, axis=0), xp.take(log_scale, index, axis=0)
    return loc + xp.exp(log_scale) * backend.normal(key, (num, dim))


def moments(xp, loc, log_scale):
    """``(mean, sd)`` of ``q0`` per coordinate (of the mixture, for ``M`` components)."""
    if loc.ndim == 1:
        return loc, xp.exp(log_scale)
    mean = xp.mean(loc, axis=0)
    second = xp.mean(xp.exp(2.0 * log_scale) + loc**2, axis=0)
    return mean, xp.sqrt(second - mean**2)


def _prior_draws(problem, key) -> np.ndarray:
    """``NUM_PRIOR_DRAWS`` prior draws in unconstrained space, as numpy, with a potential."""
    backend = problem.backend
    keys = backend.split(key, NUM_PRIOR_DRAWS)
    if backend.supports_vmap_of_models:  # one traced call instead of a Python loop

        def one(k):
            z = problem.unconstrain(dict(problem.sample_prior(k)))
            return z, problem.potential(z)

        z, u = backend.jit(backend.vmap(one))(keys)
        return np.concatenate([backend.to_numpy(z), backend.to_numpy(u)[:, None]], axis=1)
    rows = []
    for i in range(NUM_PRIOR_DRAWS):
        z = problem.unconstrain(dict(problem.sample_prior(keys[i])))
        rows.append(np.append(backend.to_numpy(z), float(problem.potential(z))))
    return np.stack(rows)


#: what a log density must be, and where NaN usually comes from
_FINITE_HINT = (
    "A log density must be a number (or -inf outside the support) wherever the model's sites "
    "can be: check for log or sqrt of negative numbers and 0 * inf, or give the site a "
    "distribution whose support excludes them."
)


def failure(where: str, err: Exception) -> ModelError:
    """The ``ModelError`` for the target's log density raising ``err`` at ``where``."""
    first = (str(err).strip().splitlines() or [""])[0]
    return ModelError(
        f"The target's log density failed at the {where} ({type(err).__name__}: {first}). "
        + _FINITE_HINT
    )


def _nan_error(problem, z: np.ndarray, u: np.ndarray, where: str) -> ModelError | None:
    """The error for NaN potentials ``u`` at the rows of ``z``, naming the first such point."""
    bad = np.isnan(u)
    if not bad.any():
        return None
    point = problem.layout.unravel(np.asarray(z[int(np.argmax(bad))], dtype=np.float64), np)
    shown = {k: np.round(v, 3).tolist() for k, v in point.items()}
    return ModelError(
        f"The target's log density is NaN at {int(bad.sum())} of {len(u)} {where}, the first "
        f"at {shown} (unconstrained values). " + _FINITE_HINT
    )


def check_start(problem, z, where: str, start=None) -> None:
    """Raise a ``ModelError`` if the potential is NaN (or raises) at any row of ``z`` (rows of
    the whitened coordinates of the warm ``start``, if one is given)."""
    backend = problem.backend
    z = warm_start.to_target(backend.xp, start, z)
    try:
        u = backend.to_numpy(backend.vmap(problem.potential)(z))
    except PPLError:
        raise
    except Exception as err:
        raise failure(where, err) from err
    error = _nan_error(problem, backend.to_numpy(z), u, where)
    if error is not None:
        raise error


def _prior_draws_in(problem, key, start=None) -> np.ndarray:
    """The finite prior draws, ``(n, dim)`` numpy, in the coordinates of ``start`` if given."""
    where = "prior draws that initialise q0"
    try:
        draws = _prior_draws(problem, key).astype(np.float64)
    except PPLError:
        raise
    except Exception as err:
        raise failure(where, err) from err
    error = _nan_error(problem, draws[:, :-1], draws[:, -1], where)
    if error is not None:
        raise error
    draws = draws[np.isfinite(draws).all(axis=1), :-1]
    if start is not None:  # in the warm start's coordinates
        shift, inverse = (problem.backend.to_numpy(a) for a in (start.shift, start.inverse))
        draws = warm_start.from_target(np, start._replace(shift=shift, inverse=inverse), draws)
    return draws


def _prior_moments(problem, key, start=None):
    draws = _prior_draws_in(problem, key, start)
    if len(draws) < 2:
        raise ModelError(
            "init_q0='prior' (and 'vi', which starts from it) needs prior draws with a finite "
            f"log density; {len(draws)} of {NUM_PRIOR_DRAWS} had one. Use init_q0='standard'."
        )
    return _robust_moments(draws)


def _robust_moments(draws):
    """``(loc, sd)``: the median and scaled median absolute deviation of ``draws``."""
    # robust moments (median, scaled median absolute deviation): a heavy-tailed prior (a
    # funnel's) would otherwise give a q0 far broader than its bulk
    loc = np.median(draws, axis=0)
    sd = MAD_TO_SD * np.median(np.abs(draws - loc), axis=0)
    return loc, np.where(sd > 0, sd, 1.0)


def _fit_vi(problem, key, loc, log_scale, steps, lr, batch_size, start=None):
    """Mean-field VI of ``(loc, log_scale)`` for ``steps`` Adam steps, in the coordinates of
    ``start``; compiled once per model and data shapes (``ppl.inference.compiled``), with the
    start, the initial values and the keys as inputs."""
    backend = problem.backend

    def build(bound):
        return functools.partial(_vi_run, bound, lr, batch_size)

    run = compiled.compiled(problem, "q0-vi", build, (lr, batch_size))
    params = {"loc": loc, "log_scale": log_scale}
    params = run(params, start, backend.split(key, steps))
    return params["loc"], params["log_scale"]


def _vi_run(problem, lr, batch_size, params, start, keys):
    backend = problem.backend
    xp = backend.xp
    potential = warm_start.potential(problem)
    optimizer = backend.optimizer("adam", lr)

    def negative_elbo(params, noise):
        x = params["loc"] + xp.exp(params["log_scale"]) * noise
        return xp.mean(potential(start, x)) - xp.sum(params["log_scale"])

    value_and_grad = backend.value_and_grad(negative_elbo)

    def body(carry, step_key):
        params, opt_state = carry
        value, grads = value_and_grad(params, backend.normal(step_key, (batch_size, problem.dim)))
        ok = xp.isfinite(value)
        grads = backend.tree_map(
            lambda g: xp.where(ok & xp.isfinite(g), g, xp.zeros_like(g)), grads
        )
        params, opt_state = optimizer.update(grads, opt_state, params)
        return (params, opt_state), value

    (params, _), _ = backend.scan(body, (params, optimizer.init(params)), keys)
    return params


def initial(
    problem,
    key,
    strategy: str,
    *,
    init_scale: float = 1.0,
    vi_steps: int = 300,
    vi_lr: float = 0.05,
    batch_size: int = 64,
    start=None,
    vi_starts: int = 1,
):
    """``(loc, log_scale)`` of the initial ``q0`` by ``strategy`` (one of ``INITS``), in the
    whitened coordinates of the warm ``start`` if one is given. With ``"vi"`` and
    ``vi_starts > 1``, ``cover_modes`` adds fits from prior draws, ``vi_starts`` a round: on a
    target with several modes ``q0`` is then a mixture (arrays of shape ``(M, dim)``, one
    component per mode and a broad one)."""
    backend = problem.backend
    prior_key, vi_key, check_key = backend.split(key, 3)
    if strategy == "standard" or (strategy == "vi" and start is not None):
        loc, sd = np.zeros(problem.dim), np.ones(problem.dim)
    else:
        loc, sd = _prior_moments(problem, prior_key, start)
    loc, log_scale = backend.asarray(loc), backend.asarray(np.log(sd))
    if strategy == "vi" and vi_steps > 0:
        loc, log_scale = _fit_vi(
            problem, vi_key, loc, log_scale, vi_steps, vi_lr, batch_size, start
        )
        if vi_starts > 1:
            fit = (vi_steps, vi_lr, batch_size, start)
            loc, log_scale = cover_modes(problem, prior_key, vi_key, loc, log_scale, vi_starts, fit)
    log_scale = log_scale + math.log(init_scale)
    particles = sample(backend, loc, log_scale, check_key, NUM_CHECK_DRAWS)
    check_start(problem, particles, "initial particles drawn from q0", start)
    return loc, log_scale


#: a fit whose ELBO is this far below the best one's (a mode with under 1/1000 of its mass,
#: or a start that did not converge) is dropped by ``cover_modes``
MODE_MASS_GAP = math.log(1000.0)
#: two fits are one mode unless the potential rises more than this (nats) above both fits'
#: means somewhere on the segment between them (at ``BARRIER_POINTS`` interior points)
BARRIER_NATS = 1.0
BARRIER_POINTS = np.linspace(0.0, 1.0, 7)[1:-1]
#: draws per fit that estimate its ELBO
NUM_ELBO_DRAWS = 256
#: at most this many rounds of ``vi_starts`` fits (``cover_modes``)
MAX_ROUNDS = 4


def cover_modes(problem, prior_key, vi_key, loc, log_scale, starts: int, fit):
    """``q0`` that covers the modes that mean-field VI finds from several starts: the fit
    ``(loc, log_scale)`` and ``starts - 1`` more, each started at a prior draw (in the warm
    start's coordinates) with the first fit's scales; ``fit`` is ``(vi_steps, vi_lr,
    batch_size, start)``. Fits whose ELBO is ``MODE_MASS_GAP`` below the best are dropped, fits
    with no barrier between their means (the potential on the segment between them stays
    within ``BARRIER_NATS`` of the higher end) are one mode (the first fit, then the best,
    stands for it).

    - Rounds: while a round finds a mode that the rounds before it did not, and there are
      several, another round of ``starts`` fits starts from the next prior draws, up to
      ``MAX_ROUNDS`` rounds. A target with one mode pays for one round; on the six-mode 2-D
      mixture (``gmm_challenging_2d``) one round of 8 starts finds 3-4 modes, the next the rest.
    - One mode: the first fit, unchanged. Several: the equal-weight mixture of one fit per
      mode and a defensive component, the prior's robust moments (the ``"prior"`` ``q0``),
      as ``(M + 1, dim)`` arrays. The importance weights correct the masses; every found mode
      gets paths, and a mode that no fit found still gets the broad component's (mean-field
      fits on that mixture often straddle two elongated modes, and the barrier rule then keeps
      a fit of one of them only).

    A reverse-KL fit (VI, and the trained path after it) seeks one mode: on a double well it
    misses the other well and ``log Z`` lacks its mass, with no sign in the weights (issue 24).
    """
    backend, xp = problem.backend, problem.backend.xp
    start = fit[-1]
    prior = _prior_draws_in(problem, prior_key, start)
    draws = prior[: MAX_ROUNDS * starts - 1]
    noise_key, *keys = backend.split(backend.split(vi_key)[1], len(draws) + 1)
    # compiled once per model: the ELBOs and the barrier checks call it many times
    potential = compiled.compiled(problem, "q0-potential", warm_start.potential)
    noise = backend.normal(noise_key, (NUM_ELBO_DRAWS, problem.dim))

    def elbo(f_loc, f_log_scale) -> float:
        u = potential(start, f_loc + xp.exp(f_log_scale) * noise)
        value = float(backend.to_numpy(-xp.mean(u) + xp.sum(f_log_scale)))
        return value if math.isfinite(value) else -math.inf

    fits, elbos, locs = [], [], []

    def add(f):
        fits.append(f)
        elbos.append(elbo(*f))
        locs.append(np.asarray(backend.to_numpy(f[0]), np.float64))

    def barrier(i, j) -> bool:
        t = BARRIER_POINTS[:, None]
        points = np.concatenate([[locs[i], locs[j]], (1 - t) * locs[i] + t * locs[j]])
        u = np.asarray(backend.to_numpy(potential(start, backend.asarray(points))), np.float64)
        return not u[2:].max() <= u[:2].max() + BARRIER_NATS  # NaN: a barrier

    def find_modes() -> list[int]:
        best = max(elbos)
        order = [0] + sorted(range(1, len(fits)), key=lambda i: -elbos[i])
        modes: list[int] = []
        for i in order:
            if elbos[i] >= best - MODE_MASS_GAP and all(barrier(i, j) for j in modes):
                modes.append(i)
        return modes

    add((loc, log_scale))
    pending = list(zip(draws, keys))
    modes, size = [0], starts - 1  # the first round: the first fit and starts - 1 more
    while pending:
        for draw, key in pending[:size]:
            add(_fit_vi(problem, key, backend.asarray(draw), log_scale, *fit))
        pending, found, size = pending[size:], len(modes), starts
        modes = find_modes()
        if len(modes) <= found:  # one mode, or no new one in this round
            break
    if len(modes) == 1:
        return fits[modes[0]]
    mode_locs = [fits[i][0] for i in modes]
    mode_log_scales = [fits[i][1] for i in modes]
    if len(prior) >= 2:  # the defensive component: the prior's moments, as broad as "prior"
        prior_loc, prior_sd = _robust_moments(prior)
        mode_locs.append(backend.asarray(prior_loc))
        mode_log_scales.append(backend.asarray(np.log(prior_sd)))
    return xp.stack(mode_locs), xp.stack(mode_log_scales)
