"""The figure of merit of ``benchmarks/snf.py`` (the paper's free-energy profile error)."""

import math

import numpy as np

from benchmarks.snf import profile_curves, profile_error
from ppl.models import energies


def test_profile_error_of_exact_draws_is_small():
    # 20 repeats of 100,000 exact draws: seeds 0-2 score 0.08-0.11 kT (bias below 0.006: the
    # truth is each bin's probability, as the histogram estimates), on 21-22 of the 27 bins
    # (those near the barrier, P ~ e^-10 each, stay empty); 0.2 and 0.05 bound that, 0.63 is
    # the paper's SNF
    x = energies.double_well_draws(2_000_000, seed=0)
    error, bias, sd, bins = profile_error(profile_curves(x, np.zeros(len(x)), repeats=20))
    assert error < 0.2 and bias < 0.05 and np.hypot(bias, sd) == error
    assert 18 <= bins <= 27  # the two wells' 9 or more bins each are always filled


def test_profile_error_weights_move_the_profile_and_empty_bins_are_skipped():
    x = energies.double_well_draws(400_000, seed=1)
    # weights exp(+E) flatten the target: the reweighted profile is then ~0 where the truth
    # rises by up to ~10 kT (seed 1 scores 2.7 over its 19 kept bins)
    flat = profile_error(profile_curves(x, energies.double_well_energy(x), repeats=20))[0]
    assert flat > 2.0
    right = x[x[:, 0] > 0]  # one well only: the left well's bins are skipped, as in the paper
    assert profile_error(profile_curves(right, np.zeros(len(right)), repeats=20))[3] <= 13
    curves = profile_curves(x, np.zeros(len(x)), repeats=20)
    right_bins = np.isfinite(curves).all(axis=0) & (np.arange(27) >= 14)  # x1 > 0.08
    assert profile_error(curves, right_bins)[3] == right_bins.sum() >= 9
    log_w = np.zeros(len(x))
    log_w[5] = math.nan  # a bad weight is a failed run, not a dropped draw
    assert profile_error(profile_curves(x, log_w, repeats=20)) == (math.inf, math.inf, math.inf, 0)
