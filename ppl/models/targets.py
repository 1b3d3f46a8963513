"""Normalized benchmark targets: Neal's funnel and three 2-D Gaussian mixtures.

Their densities integrate to one, so ``log_z = 0``; their reference moments are exact.

>>> import ppl
>>> spec = ppl.models.get("gmm_40_modes")
>>> spec.args[0].shape, spec.log_z
((40, 2), 0.0)
"""

from __future__ import annotations

import math

import numpy as np

import ppl
from ppl import dist, ops

from .spec import ModelSpec

__all__ = [
    "CHALLENGING_COVS",
    "CHALLENGING_LOCS",
    "challenging_mixture_2d",
    "challenging_mode",
    "challenging_mode_masses",
    "forty_mode_locs",
    "funnel",
    "gaussian_mixture_2d",
    "ring_locs",
]


def funnel(dim: int = 10):
    """Neal's funnel: ``v ~ Normal(0, 3)``, ``x[i] ~ Normal(0, exp(v / 2))`` for ``dim - 1``
    coordinates."""
    v = ppl.sample("v", dist.Normal(0.0, 3.0))
    ppl.sample("x", dist.Normal(0.0, ops.exp(v / 2.0)).expand([dim - 1]).to_event(1))


def mixture_log_prob(x, locs, scale):
    """``log (1/K) sum_k Normal(x | locs[k], scale^2 I)`` for ``x`` of shape ``(..., D)``."""
    per_mode = ops.sum(dist.Normal(locs, scale).log_prob(x[..., None, :]), axis=-1)
    return ops.logsumexp(per_mode, axis=-1) - math.log(locs.shape[0])


def gaussian_mixture_2d(locs, scale=1.0):
    """An equal-weight mixture of ``Normal(locs[k], scale^2 I)`` as one site ``x`` of shape
    ``locs.shape[1:]``.

    ``x`` is drawn from a Gaussian "carrier" with the mixture's mean and covariance diagonal, and
    a factor replaces the carrier's density by the mixture's, so the model density is exactly the
    mixture (a ``MixtureSameFamily`` latent site has no bijection to real space on Pyro). Prior
    draws of ``x`` are therefore carrier draws, good for initialization, not mixture draws.
    """
    center = ops.mean(locs, axis=0)
    spread = ops.sqrt(ops.mean((locs - center) ** 2, axis=0) + scale**2)
    carrier = dist.Normal(center, spread).to_event(1)
    x = ppl.sample("x", carrier)
    ppl.factor("mixture", mixture_log_prob(x, locs, scale) - carrier.log_prob(x))


def ring_locs(num_modes: int = 8, radius: float = 5.0) -> np.ndarray:
    """``num_modes`` points evenly spaced on a circle."""
    angle = 2.0 * np.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def forty_mode_locs(num_modes: int = 40, bound: float = 40.0, seed: int = 0) -> np.ndarray:
    """Means uniform in ``[-bound, bound]^2`` (as in the FAB and CMCD papers), fixed seed."""
    return np.random.default_rng(seed).uniform(-bound, bound, size=(num_modes, 2))


#: the three components of the "challenging" 2-D mixture (Arbel et al. 2021, used by the CMCD
#: paper); the target averages the mixture and its mirror image under ``(x1, x2) -> (x2, x1)``
CHALLENGING_LOCS = np.array([[3.0, 0.0], [-2.5, 0.0], [2.0, 3.0]])
CHALLENGING_COVS = np.array(
    [np.diag([0.7, 0.05]), np.diag([0.7, 0.05]), [[1.0, 0.95], [0.95, 1.0]]]
)


def _challenging_terms(x1, x2) -> list:
    """``log N`` of ``(x1, x2)`` under each of the six modes: the three components, then their
    mirror images (a component at ``(x2, x1)``); works on numpy and ``ppl.ops`` arrays."""
    terms = []
    for a, b in ((x1, x2), (x2, x1)):
        for (m1, m2), cov in zip(CHALLENGING_LOCS, CHALLENGING_COVS):
            det = float(cov[0, 0] * cov[1, 1] - cov[0, 1] ** 2)
            p11, p22, p12 = cov[1, 1] / det, cov[0, 0] / det, -cov[0, 1] / det
            d1, d2 = a - float(m1), b - float(m2)
            quad = float(p11) * d1**2 + 2.0 * float(p12) * d1 * d2 + float(p22) * d2**2
            terms.append(-0.5 * quad - 0.5 * math.log(det) - math.log(2 * math.pi))
    return terms


def challenging_mixture_2d():
    """The "challenging" 2-D mixture as one site ``x`` of shape ``(2,)``: three Gaussians with
    means ``(3, 0), (-2.5, 0), (2, 3)`` and covariances ``diag(0.7, 0.05)`` (twice) and
    ``[[1, 0.95], [0.95, 1]]``, equal weights, symmetrised under swapping the coordinates: six
    modes of mass about 1/6 each, normalized (``log Z = 0``). A carrier with the mixture's
    moments is cancelled by a factor, as in ``gaussian_mixture_2d``."""
    reference = _challenging_reference()["x"]
    carrier = dist.Normal(ops.asarray(reference["mean"]), ops.asarray(reference["sd"]))
    carrier = carrier.to_event(1)
    x = ppl.sample("x", carrier)
    terms = ops.stack(_challenging_terms(x[..., 0], x[..., 1]), axis=-1)
    log_density = ops.logsumexp(terms, axis=-1) - math.log(6.0)
    ppl.factor("mixture", log_density - carrier.log_prob(x))


def challenging_mode(x: np.ndarray) -> np.ndarray:
    """The mode (0-5, as in ``_challenging_terms``) each point of ``x`` (``(..., 2)``) belongs
    to: the one with the largest density there."""
    x = np.asarray(x, dtype=np.float64)
    return np.argmax(np.stack(_challenging_terms(x[..., 0], x[..., 1]), axis=-1), axis=-1)


def challenging_mode_masses(n: int = 1601, bound: float = 8.0) -> np.ndarray:
    """The target's probability of each mode's region (``challenging_mode``), by midpoint
    quadrature on ``[-bound, bound]^2`` with ``n`` points a side (the mass outside is below
    1e-6)."""
    edges = np.linspace(-bound, bound, n + 1)
    mid = 0.5 * (edges[1:] + edges[:-1])
    x = np.stack(np.meshgrid(mid, mid, indexing="ij"), axis=-1)
    terms = np.stack(_challenging_terms(x[..., 0], x[..., 1]), axis=-1)
    density = np.exp(terms).sum(axis=-1) / 6.0 * (edges[1] - edges[0]) ** 2
    return np.bincount(np.argmax(terms, axis=-1).ravel(), density.ravel(), minlength=6)


def _challenging_reference():
    means = np.concatenate([CHALLENGING_LOCS, CHALLENGING_LOCS[:, ::-1]])
    variances = np.concatenate([np.diagonal(CHALLENGING_COVS, axis1=1, axis2=2)] * 2)
    variances[3:] = variances[3:, ::-1]
    mean = means.mean(axis=0)
    sd = np.sqrt((variances + means**2).mean(axis=0) - mean**2)
    return {"x": {"mean": mean, "sd": sd}}


def _mixture_reference(locs, scale):
    return {"x": {"mean": locs.mean(axis=0), "sd": np.sqrt(locs.var(axis=0) + scale**2)}}


def funnel_spec(dim: int = 10) -> ModelSpec:
    sd_x = math.exp(9.0 / 4.0)  # Var x = E exp(v) = exp(9 / 2)
    return ModelSpec(
        name="funnel",
        model=funnel,
        family="target",
        description=f"Neal's funnel (d={dim}): v ~ N(0, 3), x | v ~ N(0, exp(v))",
        kwargs={"dim": dim},
        reference={
            "v": {"mean": np.asarray(0.0), "sd": np.asarray(3.0)},
            "x": {"mean": np.zeros(dim - 1), "sd": np.full(dim - 1, sd_x)},
        },
        log_z=0.0,
    )


def ring_spec() -> ModelSpec:
    locs, scale = ring_locs(), 0.5
    return ModelSpec(
        name="gmm_ring_2d",
        model=gaussian_mixture_2d,
        family="target",
        description="2-D mixture of 8 Gaussians (sd 0.5) on a circle of radius 5",
        args=(locs,),
        kwargs={"scale": scale},
        reference=_mixture_reference(locs, scale),
        log_z=0.0,
    )


def forty_modes_spec() -> ModelSpec:
    locs = forty_mode_locs()
    return ModelSpec(
        name="gmm_40_modes",
        model=gaussian_mixture_2d,
        family="target",
        description="2-D mixture of 40 unit Gaussians, means uniform in [-40, 40]^2 (seed 0)",
        args=(locs,),
        kwargs={"scale": 1.0},
        reference=_mixture_reference(locs, 1.0),
        log_z=0.0,
    )


def challenging_spec() -> ModelSpec:
    return ModelSpec(
        name="gmm_challenging_2d",
        model=challenging_mixture_2d,
        family="target",
        description="2-D 'challenging' mixture: 3 elongated Gaussians and their mirror images",
        reference=_challenging_reference(),
        log_z=0.0,
    )
