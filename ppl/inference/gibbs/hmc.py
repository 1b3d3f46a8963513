"""HMC on the continuous block of a Gibbs step, written once over the array layer.

A fixed number of leapfrog steps with a diagonal mass matrix, the step size adapted during
warmup by dual averaging (Hoffman & Gelman 2014, §3.2, with their constants) toward a target
acceptance probability, and the inverse mass set once, three quarters into warmup, to the
regularised variance of the draws of the window before (Stan's rule, one slow window). Every
adapted quantity is in ``Adaptation``, a tree of arrays, so a chain checkpoints and resumes
bitwise; the potential is an argument of ``trajectory`` because a Gibbs step changes it (it is
conditioned on the other blocks' current values).
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["Adaptation", "Schedule", "adapt", "init_adaptation", "step_size_of", "trajectory"]

#: dual averaging's constants (Hoffman & Gelman 2014): shrinkage, iteration offset, decay
GAMMA, T0, KAPPA = 0.05, 10.0, 0.75
#: an energy error above this is a divergence (NumPyro's and Stan's threshold)
MAX_DELTA_ENERGY = 1000.0


class Adaptation(NamedTuple):
    """Step size and mass adaptation state (scalars are 0-d arrays).

    log_step: the log step size in use. log_step_avg: dual averaging's running average (the
    step size after warmup). h_bar: its running mean of the acceptance shortfall. mu: its
    shrinkage point, ``log(10 step)`` at (re)start. t: adaptation steps since (re)start.
    inv_mass: the diagonal inverse mass. mean, m2, n: Welford's running moments of the window.
    """

    log_step: object
    log_step_avg: object
    h_bar: object
    mu: object
    t: object
    inv_mass: object
    mean: object
    m2: object
    n: object


class Schedule(NamedTuple):
    """When adaptation happens, in steps counted from 0: the step size adapts while
    ``step < num_warmup`` (if ``adapt_step``); the mass window is ``[window_start, window_end)``
    and the inverse mass is set at ``window_end`` (empty window: no mass adaptation)."""

    num_warmup: int
    adapt_step: bool
    window_start: int
    window_end: int
    target: float

    @classmethod
    def of(cls, num_warmup: int, adapt_step: bool, adapt_mass: bool, target: float):
        start, end = int(0.15 * num_warmup), int(0.75 * num_warmup)
        if not adapt_mass or end - start < 10:  # too few draws for a variance
            start = end = num_warmup
        return cls(num_warmup, adapt_step, start, end, target)


def init_adaptation(xp, dim: int, step_size: float, dtype) -> Adaptation:
    """The adaptation state at the start: step size ``step_size``, unit mass."""
    zero = xp.zeros((), dtype=dtype)
    log_step = xp.asarray(math.log(step_size), dtype=dtype)
    return Adaptation(
        log_step=log_step,
        log_step_avg=zero,
        h_bar=zero,
        mu=xp.asarray(math.log(10 * step_size), dtype=dtype),
        t=zero,
        inv_mass=xp.ones((dim,), dtype=dtype),
        mean=xp.zeros((dim,), dtype=dtype),
        m2=xp.zeros((dim,), dtype=dtype),
        n=zero,
    )


def step_size_of(xp, adaptation: Adaptation, step, schedule: Schedule):
    """The step size at ``step``: the adapting one in warmup, dual averaging's average after."""
    if not schedule.adapt_step:
        return xp.exp(adaptation.log_step)
    warm = step < schedule.num_warmup
    return xp.exp(xp.where(warm, adaptation.log_step, adaptation.log_step_avg))


def trajectory(arrays, value_and_grad, q, key, step_size, inv_mass, num_steps: int):
    """One HMC transition from ``q`` along ``num_steps`` leapfrog steps of the potential
    (``value_and_grad(q) -> (U, dU/dq)``), its step size jittered by +-10% to avoid periodic
    orbits. Returns ``(q, accept_prob, diverging)``."""
    xp = arrays.xp
    momentum_key, jitter_key, accept_key = arrays.split(key, 3)
    eps = step_size * arrays.uniform(jitter_key, (), 0.9, 1.1)
    p = arrays.normal(momentum_key, tuple(q.shape)) / xp.sqrt(inv_mass)
    u0, g = value_and_grad(q)
    energy0 = u0 + 0.5 * xp.sum(inv_mass * p * p)

    def leapfrog(carry, _):
        q, p, g, _u = carry
        p = p - 0.5 * eps * g
        q = q + eps * inv_mass * p
        u, g = value_and_grad(q)
        p = p - 0.5 * eps * g
        return (q, p, g, u), None

    (q_new, p_new, _, u1), _ = arrays.scan(leapfrog, (q, p, g, u0), length=num_steps)
    delta = u1 + 0.5 * xp.sum(inv_mass * p_new * p_new) - energy0
    finite = xp.isfinite(delta)
    safe = xp.where(finite, delta, xp.zeros_like(delta))
    accept_prob = xp.where(finite, xp.exp(-xp.where(safe > 0, safe, 0 * safe)), 0 * safe)
    diverging = xp.logical_not(finite) | (safe > MAX_DELTA_ENERGY)
    accept = arrays.uniform(accept_key, ()) < accept_prob
    return xp.where(accept, q_new, q), accept_prob, diverging


def adapt(xp, adaptation: Adaptation, step, q, accept_prob, schedule: Schedule) -> Adaptation:
    """The adaptation state after ``step`` (its draw ``q``, its acceptance ``accept_prob``)."""
    a = adaptation
    if schedule.adapt_step:
        warm = step < schedule.num_warmup
        t = a.t + 1.0
        weight = 1.0 / (t + T0)
        h_bar = (1.0 - weight) * a.h_bar + weight * (schedule.target - accept_prob)
        log_step = a.mu - xp.sqrt(t) / GAMMA * h_bar
        eta = t ** (-KAPPA)
        log_step_avg = eta * log_step + (1.0 - eta) * a.log_step_avg
        a = a._replace(
            log_step=xp.where(warm, log_step, a.log_step),
            log_step_avg=xp.where(warm, log_step_avg, a.log_step_avg),
            h_bar=xp.where(warm, h_bar, a.h_bar),
            t=xp.where(warm, t, a.t),
        )
    if schedule.window_end > schedule.window_start:
        inside = (step >= schedule.window_start) & (step < schedule.window_end)
        n = a.n + 1.0
        delta = q - a.mean
        mean = a.mean + delta / n
        m2 = a.m2 + delta * (q - mean)
        a = a._replace(
            n=xp.where(inside, n, a.n),
            mean=xp.where(inside, mean, a.mean),
            m2=xp.where(inside, m2, a.m2),
        )
        # at the window's last step: the regularised variance (Stan), and the step size's
        # dual averaging restarted from the current step size
        last = step == schedule.window_end - 1
        var = a.m2 / xp.where(a.n > 1.0, a.n - 1.0, 1.0 + 0 * a.n)
        shrunk = (a.n / (a.n + 5.0)) * var + 1e-3 * (5.0 / (a.n + 5.0))
        zero = xp.zeros_like(a.h_bar)
        a = a._replace(
            inv_mass=xp.where(last, shrunk, a.inv_mass),
            mu=xp.where(last, a.log_step + math.log(10.0), a.mu),
            h_bar=xp.where(last, zero, a.h_bar),
            t=xp.where(last, zero, a.t),
            log_step_avg=xp.where(last, zero, a.log_step_avg),
        )
    return a
