"""Importance-weighted draws (diffusions, flows) reach the user as equal-weight draws:
``Posterior.samples`` is resampled by the weights, ``raw_samples`` keeps the draws as made."""

from __future__ import annotations

import numpy as np

import ppl
from ppl.inference.posterior import resampling_index


def test_systematic_resampling_keeps_each_draw_floor_or_ceil_of_its_share():
    rng = np.random.default_rng(0)
    log_w = rng.normal(size=200) * 2.0
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    counts = np.bincount(resampling_index(log_w, 0.37), minlength=200)
    assert counts.sum() == 200
    assert np.all(counts >= np.floor(200 * w) - 1e-9) and np.all(counts <= np.ceil(200 * w))


def double_well(x):
    """``x1^4 - 6 x1^2 - 0.5 x1 + x2^2 / 2`` (#24's target): ~16% of the mass in the left
    well, so draws that ignore their weights put too much there."""
    return -(x[0] ** 4 - 6.0 * x[0] ** 2 - 0.5 * x[0] + 0.5 * x[1] ** 2)


def _right_mass_truth() -> float:
    grid = np.linspace(-4.0, 4.0, 20001)
    density = np.exp(-(grid**4 - 6.0 * grid**2 - 0.5 * grid))
    return float(density[grid > 0].sum() / density.sum())


def test_samples_are_the_weighted_posterior():
    post = ppl.infer(
        double_well, "ais", dim=2, backend="numpyro", seed=0, progress=False,
        K=4, num_steps=20, num_samples=2000, warm_start=False, init_q0="prior",
    )  # fmt: skip
    raw = post.raw_samples["x"][0, :, 0]
    log_w = np.asarray(post.diagnostics["log_weights"], dtype=np.float64)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    weighted = float(w @ (raw > 0))
    resampled = float(np.mean(post.samples["x"][0, :, 0] > 0))
    # systematic resampling adds less noise than multinomial, whose sd of a share p is
    # sqrt(p (1 - p) / n) ~ 0.01 at n = 2000: 0.03 is three of those
    assert abs(resampled - weighted) < 0.03
    # and the weights matter here: a short path from a broad q0 leaves them uneven, the
    # unweighted draws' right-well share is off the truth, the weighted one close to it
    truth = _right_mass_truth()
    assert abs(weighted - truth) < abs(float(np.mean(raw > 0)) - truth)
    assert post.samples["x"].shape == post.raw_samples["x"].shape
