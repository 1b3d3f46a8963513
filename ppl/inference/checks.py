"""Checks of a finished run: garbage is refused, a result not to be trusted is flagged.

``driver.run`` calls :func:`check_result` once, on the flat unconstrained draws, before it packs
a ``Posterior``:

- NaN or inf draws, NaN or +inf importance log-weights, or weights that are all zero raise
  ``DivergenceError`` naming the algorithm, the stage and the fix;
- an importance-weight ESS below ``ESS_FRACTION`` of the draws, a split R-hat above
  ``RHAT_LIMIT`` over several chains, and chains whose draws have an effective sample size
  below ``MIN_ESS`` (or below ``ESS_FRACTION_CHAINS`` of the draws when there are fewer than
  ``MIN_ESS / ESS_FRACTION_CHAINS``) warn with ``UntrustedResultWarning``.

:func:`check_weighted_draws` runs on the constrained draws of a weighted result: one draw that
carries more than ``DOMINANT_SHARE`` of a parameter's weighted variance warns, since that
parameter's sd then rests on a single draw (a heavy tail the sampler reached once).

:func:`check_runaway` is an algorithm's ``check_info`` (the SG-MCMC family's): after every chunk
of steps, warmup included, a chain whose potential ran away by orders of magnitude while staying
finite raises ``DivergenceError`` naming the step.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> float(split_rhat(rng.normal(size=(4, 500, 1)))[0]) < 1.01
True
>>> round(importance_ess(np.zeros(100)), 6)
100.0
>>> 800 < float(chain_ess(rng.normal(size=(2, 500, 1)))[0]) < 1200
True
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import DivergenceError, UntrustedResultWarning

__all__ = [
    "DOMINANT_SHARE",
    "ESS_FRACTION",
    "ESS_FRACTION_CHAINS",
    "MIN_ESS",
    "RHAT_LIMIT",
    "RUNAWAY_FACTOR",
    "check_result",
    "check_runaway",
    "check_weighted_draws",
    "chain_ess",
    "importance_ess",
    "runaway_chain",
    "split_rhat",
]

#: an importance-weight ESS below this fraction of the draws warns
ESS_FRACTION = 0.01
#: chains whose draws have an ESS below ``min(MIN_ESS, ESS_FRACTION_CHAINS * draws)`` in some
#: coordinate warn: a mean's Monte Carlo error is then above 0.1 sd (Vehtari et al. 2021 ask for
#: 100 per chain before trusting R-hat)
MIN_ESS = 100
ESS_FRACTION_CHAINS = 0.1
#: one weighted draw carrying more than this share of a parameter's weighted variance warns
#: (dropping it would move that sd by more than 16%): with 1,000 exact draws of eight schools'
#: heavy-tailed ``tau`` the largest share is 2.6% (median) and 5.5% (99th percentile); the
#: check runs where the weights' ESS is at least ``MIN_ESS`` (below, the ESS alone speaks)
DOMINANT_SHARE = 0.3
#: a split R-hat above this, over two or more chains, warns
RHAT_LIMIT = 1.05
#: a chain whose potentials sit this many times the spread of a stationary chain above the
#: lowest potential it reached has run away (see ``runaway_chain``)
RUNAWAY_FACTOR = 100.0

_STACKLEVEL = 4  # the user's ppl.infer call: _warn, check_result, driver.run, infer, user


def importance_ess(log_weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` of importance log-weights."""
    w = np.asarray(log_weights, dtype=np.float64).reshape(-1)
    return float(np.exp(2 * np.logaddexp.reduce(w) - np.logaddexp.reduce(2 * w)))


def split_rhat(positions: np.ndarray) -> np.ndarray:
    """Split R-hat (Gelman et al., BDA3 §11.4) per coordinate of ``(chain, draw, dim)`` draws.

    Each chain is cut in halves; ``sqrt(var+ / W)`` with ``W`` the mean within-half variance and
    ``var+ = (n - 1)/n W + B/n``. A coordinate that does not vary gives NaN.
    """
    x = np.asarray(positions, dtype=np.float64)
    n = x.shape[1] // 2
    halves = np.concatenate([x[:, :n], x[:, x.shape[1] - n :]], axis=0)
    within = halves.var(axis=1, ddof=1).mean(axis=0)
    between_over_n = halves.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(((n - 1) / n * within + between_over_n) / within)


def chain_ess(positions: np.ndarray) -> np.ndarray:
    """Effective sample size per coordinate of ``(chain, draw, dim)`` draws: Geyer's initial
    monotone sequence on the autocorrelations of the split chains (Stan's ``ess`` without
    ranks; ArviZ's ``ess(method="mean")``).
    A coordinate that does not vary gives NaN."""
    x = np.asarray(positions, dtype=np.float64)
    half = x.shape[1] // 2  # split chains, as split R-hat: a drift shows as disagreeing halves
    x = np.concatenate([x[:, :half], x[:, x.shape[1] - half :]], axis=0)
    m, n, dim = x.shape
    centred = x - x.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=2 * n, axis=1)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), axis=1)[:, :n] / n  # (chain, lag, dim)
    within = acov[:, 0].mean(axis=0) * n / max(n - 1, 1)
    between = x.mean(axis=1).var(axis=0, ddof=1) if m > 1 else 0.0
    var_plus = within * (n - 1) / n + between
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (within - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    pairs = rho[: n - n % 2].reshape(-1, 2, dim).sum(axis=1)  # Geyer's P_k = rho_2k + rho_2k+1
    keep = np.cumprod(pairs > 0, axis=0).astype(bool)  # up to the first non-positive pair
    pairs = np.minimum.accumulate(np.where(keep, pairs, 0.0), axis=0)  # made monotone
    tau = np.maximum(-1.0 + 2.0 * pairs.sum(axis=0), 1.0 / np.log10(max(m * n, 10)))
    return np.where(var_plus > 0, m * n / tau, np.nan)


def runaway_chain(potential: np.ndarray, dim: int) -> tuple[int, float] | None:
    """``(step, excess)`` where the first chain whose potential ran away did so, or ``None``.

    ``potential``: ``(step,)`` or ``(step, chain)`` potentials over a stretch of steps. At
    stationarity the potential of a posterior in ``dim`` dimensions sits about ``dim / 2`` above
    the lowest value it reached (more with heavy tails; minibatch estimates add their noise,
    which the interquartile range ``spread`` measures). A chain whose potential over the last
    quarter of the stretch sits, in median, more than ``RUNAWAY_FACTOR * (dim + spread)`` above
    the lowest value it had reached by then has moved orders of magnitude away from where it
    was (a chain coming down from a far start does not: its running minimum follows it);
    ``excess`` is that distance in units of ``dim + spread``, ``step`` the first step of the
    stretch more than half that distance above the running minimum.
    """
    values = np.asarray(potential, dtype=np.float64)
    values = values.reshape(len(values), -1)
    for u in values.T:
        if u.size < 8 or not np.isfinite(u).all():
            continue  # non-finite values are the NaN check's
        above = u - np.minimum.accumulate(u)
        tail = slice(len(u) - len(u) // 4, None)
        q1, q3 = np.quantile(u[tail], [0.25, 0.75])
        distance = np.median(above[tail])
        excess = distance / (dim + (q3 - q1))
        if excess > RUNAWAY_FACTOR:
            return int(np.flatnonzero(above > distance / 2)[0]), float(excess)
    return None


def check_runaway(dim: int, info: dict, first_step: int, method: str) -> None:
    """A ``check_info`` for samplers on a ``dim``-dimensional space whose ``info`` has the
    ``potential`` of each step: raise ``DivergenceError`` when a chain's potential ran away in
    this chunk (see :func:`runaway_chain`), naming the step and the fix."""
    found = runaway_chain(info["potential"], dim)
    if found is None:
        return
    step, excess = found
    raise DivergenceError(
        f"{method}: a chain ran away near step {first_step + step}: its potential rose "
        f"{excess:.3g} times (dim + spread) above the lowest it had reached (more than "
        f"{RUNAWAY_FACTOR:g}), so it left the posterior while staying finite. Lower the step "
        "size (or use step_size='auto'), or raise batch_size."
    )


def check_result(method, kind, problem, positions, log_weights, info) -> None:
    """Refuse or flag the result of ``method`` (see the module docstring).

    Parameters
    ----------
    method : str
        The algorithm's name, for the messages.
    kind : str
        ``"mcmc"`` (draws kept from chains) or ``"fit"`` (draws of a fitted sampler).
    problem : Problem
        Its layout names the site of a non-finite coordinate.
    positions : ndarray or None
        Flat unconstrained draws ``(chain, draw, dim)``.
    log_weights : ndarray or None
        Importance log-weights of the draws (``"fit"`` algorithms that have them).
    info : dict
        The per-step info ``{name: (chain, step)}`` of the kept steps (the ``loss`` of a fit
        names the step where it first went non-finite).
    """
    if positions is None or positions.size == 0:
        return
    _check_finite_draws(method, problem, positions, info, kind == "fit")
    if log_weights is not None:
        _check_weights(method, np.asarray(log_weights), info)
    if positions.shape[0] >= 2 and positions.shape[1] >= 4:
        _check_rhat(method, problem, positions)
    if kind == "mcmc" and positions.shape[1] >= 4:
        _check_ess(method, problem, positions)


def _site(problem, index: int) -> str:
    offsets = np.cumsum((0,) + tuple(problem.layout.sizes))
    return problem.layout.names[int(np.searchsorted(offsets, index, side="right") - 1)]


def _first_bad_step(info) -> str:
    loss = info.get("loss")
    if loss is None:
        return ""
    bad = np.flatnonzero(~np.isfinite(np.asarray(loss, dtype=np.float64).reshape(-1)))
    return f"; its loss was first NaN or inf at step {int(bad[0])}" if bad.size else ""


def _check_finite_draws(method, problem, positions, info, fit: bool) -> None:
    bad = ~np.isfinite(positions)
    if not bad.any():
        return
    rows = bad.reshape(-1, bad.shape[-1])
    site = _site(problem, int(np.argwhere(rows)[0][1]))
    count = int(rows.any(axis=1).sum())
    if fit:
        raise DivergenceError(
            f"{method}: the final sampling stage returned NaN or inf in {count} of {len(rows)} "
            f"draws, first in site {site!r}{_first_bad_step(info)}. The fit diverged: lower the "
            "learning rate (lr) or step size, or check that site's prior and likelihood for "
            "regions where the density is not finite."
        )
    raise DivergenceError(
        f"{method}: {count} of the {len(rows)} kept draws are NaN or inf, first in site "
        f"{site!r}. Lower the step size, or check that site's prior and likelihood for regions "
        "where the density is not finite."
    )


def _check_weights(method, log_weights: np.ndarray, info) -> None:
    w = log_weights.reshape(-1).astype(np.float64)
    bad = np.isnan(w) | (w == np.inf)
    if bad.any() or not np.isfinite(w).any():
        what = (
            f"{int(bad.sum())} of its {w.size} importance log-weights are NaN or +inf"
            if bad.any()
            else f"all {w.size} importance weights are zero (log-weights -inf)"
        )
        raise DivergenceError(
            f"{method}: in the final sampling stage {what}{_first_bad_step(info)}, so neither "
            "the reweighted draws nor log Z can be computed. Lower the learning rate (lr) or "
            "step size, or check the model for regions where the density is not finite."
        )
    ess = importance_ess(w)
    if ess < ESS_FRACTION * w.size:
        _warn(
            f"{method}: the importance weights of the {w.size} draws have an effective sample "
            f"size of {ess:.1f} ({100 * ess / w.size:.2g}% of the draws, below "
            f"{100 * ESS_FRACTION:g}%), so the draws and log Z rest on a handful of them. Raise "
            "num_steps (or lower lr) so the fitted sampler covers the posterior, or use "
            "'nuts' for this model."
        )


def check_weighted_draws(method: str, samples: dict, log_weights: np.ndarray) -> None:
    """Warn when one draw carries more than ``DOMINANT_SHARE`` of the weighted variance of a
    parameter of ``samples`` (``{site: (1, draws, ...)}``, constrained) under ``log_weights``.

    >>> import warnings
    >>> x = np.r_[np.linspace(-1, 1, 999), 30.0]
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     check_weighted_draws("ais", {"tau": x[None]}, np.zeros(1000))
    >>> "tau" in str(caught[0].message)
    True
    """
    w = np.exp(log_weights.reshape(-1) - np.max(log_weights))
    w = w / w.sum()
    if 1.0 / np.sum(w**2) < MIN_ESS:
        return
    for site, values in samples.items():
        x = np.asarray(values, dtype=np.float64).reshape(w.size, -1)
        terms = w[:, None] * (x - w @ x) ** 2
        share = terms.max(axis=0) / np.maximum(terms.sum(axis=0), np.finfo(float).tiny)
        worst = int(np.argmax(share))
        if share[worst] > DOMINANT_SHARE:
            shape = np.shape(values)[2:]
            where = f"[{', '.join(map(str, np.unravel_index(worst, shape)))}]" if shape else ""
            draw = int(np.argmax(terms[:, worst]))
            _warn(
                f"{method}: one of the {w.size} weighted draws ({site}{where} = "
                f"{x[draw, worst]:.4g}) carries {100 * share[worst]:.0f}% of the weighted "
                f"variance of {site}{where}, so its sd and tails rest on that one draw (a "
                "heavy tail reached once). Raise num_samples, or use 'nuts' for this model."
            )
            return


def _check_rhat(method, problem, positions) -> None:
    rhat = split_rhat(positions)
    if not np.any(rhat > RHAT_LIMIT):
        return
    worst = int(np.nanargmax(rhat))
    _warn(
        f"{method}: split R-hat over the {positions.shape[0]} chains is {rhat[worst]:.3g} in "
        f"site {_site(problem, worst)!r} (above {RHAT_LIMIT}), so the chains disagree and have "
        "not mixed. Raise num_warmup and num_samples, or check the posterior for several modes."
    )


def _check_ess(method, problem, positions) -> None:
    ess = chain_ess(positions)
    draws = positions.shape[0] * positions.shape[1]
    floor = min(MIN_ESS, ESS_FRACTION_CHAINS * draws)
    if not np.any(ess < floor):
        return
    worst = int(np.nanargmin(ess))
    _warn(
        f"{method}: the {draws} draws have an effective sample size of {ess[worst]:.1f} in site "
        f"{_site(problem, worst)!r} (below {floor:g}), so its mean carries a Monte Carlo error "
        f"of about {1 / np.sqrt(max(ess[worst], 1e-12)):.2g} posterior sd. Raise num_samples (and "
        "num_warmup), or use a sampler that mixes better here (e.g. 'nuts')."
    )


def _warn(message: str) -> None:
    warnings.warn(message, UntrustedResultWarning, stacklevel=_STACKLEVEL + 1)
