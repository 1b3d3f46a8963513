"""2-D targets defined by an energy, ``p(x) = exp(-E(x)) / Z``: the double well, a Rosenbrock
banana, and the four energies U1-U4 of Rezende & Mohamed (2015, "Variational inference with
normalizing flows").

A target written as an energy has no "flat" site in ``ppl``, and ``ImproperUniform`` cannot be
drawn from (the Problem's prototype run draws every site), so each model draws ``x`` from a
proper *carrier* and a ``ppl.factor`` removes the carrier's density again:
``factor = -E(x) - carrier.log_prob(x)``. The model density is then exactly ``exp(-E(x))``, and
prior draws are carrier draws (for initialization). The double well and the banana live on
``R^2`` with a Gaussian carrier; U1-U4 live on the box ``[-4, 4]^2`` of the paper's figures (U2-U4
do not confine ``x1``, so they are not integrable on ``R^2``), with a uniform carrier.

``log_z`` and the reference moments are computed when the spec is built, by midpoint quadrature
on a fine grid in numpy (the banana on the sheared grid ``(x1, x2 - x1^2)``, whose Jacobian is 1).

>>> import ppl
>>> spec = ppl.models.get("banana")
>>> round(spec.log_z, 6) == round(float(__import__("numpy").log(2 * __import__("numpy").pi)), 6)
True
>>> round(free_energy_difference(), 3)   # F(right well) - F(left well), in kT
-1.691
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

import ppl
from ppl import dist, ops

from .spec import ModelSpec

__all__ = [
    "ENERGIES",
    "double_well_draws",
    "double_well_energy",
    "banana_energy",
    "u1_energy",
    "u2_energy",
    "u3_energy",
    "u4_energy",
    "energy_model",
    "free_energy_difference",
    "free_energy_profile",
    "quadrature",
    "reweighted_free_energy_difference",
]

BOX = 4.0


# ---- energies: written once for numpy and ppl.ops (``xp``), x of shape (..., 2) ----------------


def double_well_energy(x, xp=np):
    """``E(x) = x1^4 - 6 x1^2 - 0.5 x1 + x2^2 / 2``."""
    x1, x2 = x[..., 0], x[..., 1]
    return x1**4 - 6.0 * x1**2 - 0.5 * x1 + 0.5 * x2**2


def banana_energy(x, xp=np):
    """Rosenbrock banana ``E(x) = ((1 - x1)^2 + 100 (x2 - x1^2)^2) / 20``; ``Z = 2 pi``."""
    x1, x2 = x[..., 0], x[..., 1]
    return ((1.0 - x1) ** 2 + 100.0 * (x2 - x1**2) ** 2) / 20.0


def _w1(x1, xp):
    return xp.sin(2.0 * math.pi * x1 / 4.0)


def u1_energy(x, xp=np):
    """``0.5 ((|x| - 2) / 0.4)^2 - log(exp(-0.5 ((x1 - 2) / 0.6)^2)
    + exp(-0.5 ((x1 + 2) / 0.6)^2))``."""
    x1, x2 = x[..., 0], x[..., 1]
    ring = 0.5 * ((xp.sqrt(x1**2 + x2**2) - 2.0) / 0.4) ** 2
    return ring - xp.logaddexp(-0.5 * ((x1 - 2.0) / 0.6) ** 2, -0.5 * ((x1 + 2.0) / 0.6) ** 2)


def u2_energy(x, xp=np):
    """``0.5 ((x2 - w1(x1)) / 0.4)^2`` with ``w1(x1) = sin(2 pi x1 / 4)``."""
    x1, x2 = x[..., 0], x[..., 1]
    return 0.5 * ((x2 - _w1(x1, xp)) / 0.4) ** 2


def u3_energy(x, xp=np):
    """``-log(exp(-0.5 ((x2 - w1) / 0.35)^2) + exp(-0.5 ((x2 - w1 + w2) / 0.35)^2))``."""
    x1, x2 = x[..., 0], x[..., 1]
    w1, w2 = _w1(x1, xp), 3.0 * xp.exp(-0.5 * ((x1 - 1.0) / 0.6) ** 2)
    return -xp.logaddexp(-0.5 * ((x2 - w1) / 0.35) ** 2, -0.5 * ((x2 - w1 + w2) / 0.35) ** 2)


def u4_energy(x, xp=np):
    """``-log(exp(-0.5 ((x2 - w1) / 0.4)^2) + exp(-0.5 ((x2 - w1 + w3) / 0.35)^2))``."""
    x1, x2 = x[..., 0], x[..., 1]
    w1, w3 = _w1(x1, xp), 3.0 / (1.0 + xp.exp(-(x1 - 1.0) / 0.3))
    return -xp.logaddexp(-0.5 * ((x2 - w1) / 0.4) ** 2, -0.5 * ((x2 - w1 + w3) / 0.35) ** 2)


#: name -> (energy, carrier: ("normal", scale) or ("box", half-width), description)
ENERGIES: dict[str, tuple[Callable, tuple[str, float], str]] = {
    "double_well": (
        double_well_energy,
        ("normal", 2.0),
        "Double well E = x1^4 - 6x1^2 - x1/2 + x2^2/2",
    ),
    "banana": (banana_energy, ("normal", 3.0), "Rosenbrock banana ((1-x1)^2 + 100(x2-x1^2)^2)/20"),
    "rezende_u1": (u1_energy, ("box", BOX), "Rezende-Mohamed U1 (ring, two modes) on [-4, 4]^2"),
    "rezende_u2": (u2_energy, ("box", BOX), "Rezende-Mohamed U2 (sine wave) on [-4, 4]^2"),
    "rezende_u3": (u3_energy, ("box", BOX), "Rezende-Mohamed U3 (split sine) on [-4, 4]^2"),
    "rezende_u4": (u4_energy, ("box", BOX), "Rezende-Mohamed U4 (sigmoid split) on [-4, 4]^2"),
}


def energy_model(name: str):
    """The ``ppl`` model of energy target ``name`` (one site ``x`` of shape ``(2,)``)."""
    energy, (kind, size), _ = ENERGIES[name]

    def model():
        if kind == "box":
            carrier = dist.Uniform(-size, size).expand([2]).to_event(1)
        else:
            carrier = dist.Normal(0.0, size).expand([2]).to_event(1)
        x = ppl.sample("x", carrier)
        ppl.factor("energy", -energy(x, ops) - carrier.log_prob(x))

    model.__name__ = model.__qualname__ = name
    model.__doc__ = f"{ENERGIES[name][2]}: density exp(-E(x)) (see ``ppl.models.energies``)."
    return model


def quadrature(name: str, n: int = 1201) -> tuple[float, np.ndarray, np.ndarray]:
    """``(log_z, mean, sd)`` of target ``name`` by the midpoint rule on an ``n x n`` grid."""
    energy, (kind, _), _ = ENERGIES[name]
    if name == "banana":  # coordinates (x1, u = x2 - x1^2): Jacobian 1, the ridge is straight
        a, b = _midpoints(1.0 - 30.0, 1.0 + 30.0, n), _midpoints(-3.0, 3.0, n)
        x1, u = np.meshgrid(a, b, indexing="ij")
        x = np.stack([x1, u + x1**2], axis=-1)
    else:  # the box, or a range holding all but ~exp(-60) of the mass (double well)
        (lo1, hi1), (lo2, hi2) = ((-BOX, BOX),) * 2 if kind == "box" else ((-5.0, 5.0), (-9.0, 9.0))
        a, b = _midpoints(lo1, hi1, n), _midpoints(lo2, hi2, n)
        x = np.stack(np.meshgrid(a, b, indexing="ij"), axis=-1)
    log_w = -energy(x, np) + math.log((a[1] - a[0]) * (b[1] - b[0]))
    top = log_w.max()
    w = np.exp(log_w - top)
    z = w.sum()
    mean = np.einsum("ij,ijk->k", w, x) / z
    var = np.einsum("ij,ijk->k", w, (x - mean) ** 2) / z
    return float(top + math.log(z)), mean, np.sqrt(var)


def _midpoints(lo: float, hi: float, n: int) -> np.ndarray:
    h = (hi - lo) / n
    return lo + h * (np.arange(n) + 0.5)


def _spec(name: str) -> ModelSpec:
    log_z, mean, sd = quadrature(name)
    return ModelSpec(
        name=name,
        model=energy_model(name),
        family="target",
        description=ENERGIES[name][2],
        reference={"x": {"mean": mean, "sd": sd}},
        log_z=log_z,
    )


def double_well_spec() -> ModelSpec:
    return _spec("double_well")


def banana_spec() -> ModelSpec:
    return _spec("banana")


def u1_spec() -> ModelSpec:
    return _spec("rezende_u1")


def u2_spec() -> ModelSpec:
    return _spec("rezende_u2")


def u3_spec() -> ModelSpec:
    return _spec("rezende_u3")


def u4_spec() -> ModelSpec:
    return _spec("rezende_u4")


# ---- the double well's free energy along x1 -----------------------------------------------------


def free_energy_profile(x1, name: str = "double_well", n: int = 4001) -> np.ndarray:
    """``F(x1) = -log int exp(-E(x1, x2)) dx2`` (in kT) at each ``x1``, by the midpoint rule
    over ``x2`` in ``[-9, 9]`` (the double well's ``x2`` is a unit Gaussian, so the range holds
    all but ~exp(-40) of it)."""
    energy = ENERGIES[name][0]
    x2 = _midpoints(-9.0, 9.0, n)
    x1 = np.asarray(x1, dtype=float)
    x = np.stack(np.broadcast_arrays(x1[..., None], x2), axis=-1)
    log_w = -energy(x, np) + math.log(x2[1] - x2[0])
    top = log_w.max(axis=-1)
    return -(top + np.log(np.exp(log_w - top[..., None]).sum(axis=-1)))


def free_energy_difference(name: str = "double_well", n: int = 4001) -> float:
    """The free-energy difference between the wells, ``F_right - F_left = -log(P(x1 > 0) /
    P(x1 < 0))`` in kT, by quadrature of ``exp(-F(x1))`` over ``x1`` in ``[-5, 5]``."""
    x1 = _midpoints(-5.0, 5.0, n)
    log_p = -free_energy_profile(x1, name)
    right, left = log_p[x1 > 0], log_p[x1 < 0]
    return float(-(np.logaddexp.reduce(right) - np.logaddexp.reduce(left)))


def double_well_draws(n: int, seed: int = 0, grid: int = 80000) -> np.ndarray:
    """``n`` exact independent draws ``(n, 2)`` of the double well: ``x1`` by inverting the
    cumulative of ``exp(-F(x1))`` over ``[-5, 5]`` (``grid`` cells, the density taken at each
    cell's midpoint and uniform within it), ``x2 ~ N(0, 1)`` (the energy is separable). The
    gold-standard data of the paper's double-well experiment (Wu, Köhler & Noé 2020 train on
    exact draws).

    >>> x = double_well_draws(20000, seed=1)  # dF's standard error here is about 0.02
    >>> x.shape, bool(abs(reweighted_free_energy_difference(x) - free_energy_difference()) < 0.1)
    ((20000, 2), True)
    """
    edges = np.linspace(-5.0, 5.0, grid + 1)
    x1 = (edges[1:] + edges[:-1]) / 2
    log_p = -double_well_energy(np.stack([x1, np.zeros_like(x1)], axis=-1))
    cdf = np.concatenate([[0.0], np.cumsum(np.exp(log_p - log_p.max()))])
    rng = np.random.default_rng(seed)
    draws = np.interp(rng.uniform(size=n) * cdf[-1], cdf, edges)
    return np.stack([draws, rng.normal(size=n)], axis=-1)


def reweighted_free_energy_difference(x, log_weights=None) -> float:
    """``F_right - F_left`` estimated from draws ``x`` ``(n, 2)`` and their importance
    log-weights (``None``: unweighted), ``-log(sum_{x1 > 0} w / sum_{x1 < 0} w)``; infinite
    when a well has no draws."""
    x = np.asarray(x)
    log_w = np.zeros(len(x)) if log_weights is None else np.asarray(log_weights, dtype=float)
    right, left = log_w[x[:, 0] > 0], log_w[x[:, 0] < 0]
    if not len(right) or not len(left):
        return math.inf if not len(right) else -math.inf
    return float(-(np.logaddexp.reduce(right) - np.logaddexp.reduce(left)))
