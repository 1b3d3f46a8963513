"""The figure of merit of ``benchmarks/snf.py`` (the paper's free-energy profile error)."""

import numpy as np

from benchmarks.snf import profile_error
from ppl.models import energies


def test_profile_error_of_exact_draws_is_its_monte_carlo_floor():
    # 20 repeats of 100,000 exact draws: seeds 0-2 score 0.17-0.20 kT with bias 0.07-0.08 (the
    # sparsely filled bins near the barrier); 0.3 bounds that floor, 0.63 is the paper's SNF
    x = energies.double_well_draws(2_000_000, seed=0)
    error, bias, sd, bins = profile_error(x, np.zeros(len(x)), repeats=20)
    assert error < 0.3 and bias < 0.15 and np.hypot(bias, sd) == error
    assert 20 <= bins <= 27


def test_profile_error_weights_move_the_profile_and_empty_bins_are_skipped():
    x = energies.double_well_draws(400_000, seed=1)
    # weights exp(+E) flatten the target: the reweighted profile is then ~0 where the truth
    # rises by up to ~10 kT (seed 1 scores 2.8 over its 19 kept bins)
    flat = profile_error(x, energies.double_well_energy(x), repeats=20)[0]
    assert flat > 2.0
    right = x[x[:, 0] > 0]  # one well only: the left well's bins are skipped, as in the paper
    assert profile_error(right, np.zeros(len(right)), repeats=20)[3] <= 13
