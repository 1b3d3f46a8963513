"""Normalized benchmark targets: Neal's funnel and two 2-D Gaussian mixtures.

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

__all__ = ["funnel", "gaussian_mixture_2d", "ring_locs", "forty_mode_locs"]


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
