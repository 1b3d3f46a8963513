"""Warmup adaptation of the batched NUTS kernel (``batched_nuts``), one set per chain.

Stan's windowed schedule (as NumPyro's ``build_adaptation_schedule``): a fast first window
(step size only), slow middle windows that double in length (the mass matrix is estimated from
the draws of each and set at its end, and the step size searched again), a fast last window.
The step size follows Nesterov dual averaging (Hoffman & Gelman 2014, t0=10, kappa=0.75,
gamma=0.05) towards ``target_accept_prob``; after warmup it is the average of its iterates. The
mass matrix is the Welford estimate of the window's covariance, shrunk towards 1e-3 as Stan does.
All chains share the iteration count, so the schedule is plain Python; every quantity that
differs between chains is a tensor with a leading chain axis.

>>> schedule(60)
[(0, 8), (9, 53), (54, 59)]
>>> schedule(200)
[(0, 74), (75, 99), (100, 149), (150, 199)]
>>> schedule(1000)
[(0, 74), (75, 99), (100, 149), (150, 249), (250, 449), (450, 949), (950, 999)]
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "averaging_init",
    "averaging_update",
    "find_step_size",
    "kinetic",
    "leapfrog",
    "mass_from_covariance",
    "momentum",
    "schedule",
    "velocity",
    "welford_update",
]

T0, KAPPA, GAMMA = 10.0, 0.75, 0.05
#: the search's starting step size is doubled or halved at most this many times
SEARCH_STEPS = 100


def schedule(num_warmup: int) -> list[tuple[int, int]]:
    """The adaptation windows ``(first, last)`` of ``num_warmup`` steps (Stan's buffers 75 / 25
    / 50, scaled to 15% / 75% / 10% when they do not fit; one window below 20 steps)."""
    if num_warmup < 20:
        return [(0, num_warmup - 1)] if num_warmup else []
    init_buffer, base, term_buffer = 75, 25, 50
    if init_buffer + base + term_buffer > num_warmup:
        init_buffer = int(0.15 * num_warmup)
        term_buffer = int(0.1 * num_warmup)
        base = num_warmup - init_buffer - term_buffer
    windows = [(0, init_buffer - 1)]
    end_slow = num_warmup - term_buffer
    size, start = base, init_buffer
    while start < end_slow:
        current = size
        if 3 * current <= end_slow - start:
            size = 2 * current
        else:
            current = end_slow - start
        windows.append((start, start + current - 1))
        start += current
    windows.append((end_slow, num_warmup - 1))
    return windows


def velocity(inverse_mass, r):
    """``M^-1 r`` per chain: ``inverse_mass`` (C, D) diagonal or (C, D, D) dense."""
    if inverse_mass.dim() == 2:
        return inverse_mass * r
    return torch.einsum("cij,cj->ci", inverse_mass, r)


def kinetic(inverse_mass, r):
    return 0.5 * (r * velocity(inverse_mass, r)).sum(-1)


def momentum(mass_sqrt, noise):
    """``r ~ N(0, M)`` from standard normal ``noise``: ``mass_sqrt`` is ``M``'s square root
    (diagonal) or lower Cholesky factor (dense)."""
    if mass_sqrt.dim() == 2:
        return mass_sqrt * noise
    return torch.einsum("cij,cj->ci", mass_sqrt, noise)


def leapfrog(value_and_grad, inverse_mass, z, r, grad, step_size):
    """One velocity-Verlet step of signed size ``step_size`` (C,) for every chain."""
    eps = step_size.unsqueeze(-1)
    r = r - 0.5 * eps * grad
    z = z + eps * velocity(inverse_mass, r)
    potential, grad = value_and_grad(z)
    return z, r - 0.5 * eps * grad, potential, grad


def find_step_size(value_and_grad, z, potential, grad, step_size, inverse_mass, mass_sqrt,
                   normals):  # fmt: skip
    """Per chain, NumPyro's ``find_reasonable_step_size``: double (halve) the step size while
    one leapfrog step's acceptance stays above (below) 0.8, and return the first that crosses.
    ``normals(n)``: an (C, D) standard normal draw, one row from each chain's own stream."""
    finfo = torch.finfo(step_size.dtype)
    direction = torch.zeros_like(step_size)
    last = torch.zeros_like(step_size)
    active = torch.ones_like(step_size, dtype=torch.bool)
    for _ in range(SEARCH_STEPS):
        if not bool(active.any()):
            break
        step_size = torch.where(active, step_size * 2.0**direction, step_size)
        r = momentum(mass_sqrt, normals())
        _, r_new, potential_new, _ = leapfrog(value_and_grad, inverse_mass, z, r, grad, step_size)
        delta = potential_new + kinetic(inverse_mass, r_new) - potential - kinetic(inverse_mass, r)
        # a NaN energy compares false: the step size shrinks
        new_direction = torch.where(math.log(0.8) < -delta, 1.0, -1.0).to(step_size.dtype)
        last = torch.where(active, direction, last)
        direction = torch.where(active, new_direction, direction)
        extreme = ((step_size <= finfo.tiny) & (direction < 0)) | (
            (step_size >= finfo.max) & (direction > 0)
        )
        active = active & ~extreme & ((last == 0) | (direction == last))
    return step_size


def averaging_init(step_size):
    """Dual averaging's state per chain, (C, 5) float64: log step size, its average, the
    averaged gradient, the prox centre log(10 step size) and the count of updates."""
    state = torch.zeros(step_size.shape + (5,), dtype=torch.float64, device=step_size.device)
    state[..., 3] = torch.log(10.0 * step_size.to(torch.float64))
    return state


def averaging_update(state, accept_prob, target: float):
    """One dual-averaging update with each chain's acceptance probability."""
    log_step, log_avg, g_avg, mu, t = state.unbind(-1)
    t = t + 1
    g = target - accept_prob.to(torch.float64)
    g_avg = (1 - 1 / (t + T0)) * g_avg + g / (t + T0)
    log_step = mu - torch.sqrt(t) / GAMMA * g_avg
    weight = t ** (-KAPPA)
    log_avg = (1 - weight) * log_avg + weight * log_step
    return torch.stack([log_step, log_avg, g_avg, mu, t], dim=-1)


def welford_update(mean, m2, count, z):
    """The running mean and (co)variance sums with one more draw per chain; ``m2`` (C, D) is
    the diagonal, (C, D, D) the full matrix."""
    count = count + 1
    delta = z - mean
    mean = mean + delta / count.unsqueeze(-1).to(z.dtype)
    after = z - mean
    if m2.dim() == 2:
        return mean, m2 + delta * after, count
    return mean, m2 + delta.unsqueeze(-1) * after.unsqueeze(-2), count


def mass_from_covariance(m2, count):
    """``(inverse_mass, mass_sqrt)`` from a window's Welford sums, shrunk as Stan does:
    ``n / (n + 5) * cov + 1e-3 * 5 / (n + 5)``."""
    n = count.to(m2.dtype)
    scale = (n / (n + 5.0) / (n - 1.0).clamp_min(1.0)).reshape((-1,) + (1,) * (m2.dim() - 1))
    shrink = (1e-3 * 5.0 / (n + 5.0)).reshape((-1,) + (1,) * (m2.dim() - 1))
    if m2.dim() == 2:
        inverse = scale * m2 + shrink
        return inverse, inverse.rsqrt()
    eye = torch.eye(m2.shape[-1], dtype=m2.dtype, device=m2.device)
    inverse = scale * m2 + shrink * eye
    inverse = 0.5 * (inverse + inverse.transpose(-1, -2))
    return inverse, torch.linalg.cholesky(torch.linalg.inv(inverse))
