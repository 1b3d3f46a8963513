"""Pyro's HMC with a trajectory length (``num_steps=None``): its leapfrog steps per proposal
are bounded, so a step size adapted down to 1e-5 on a badly scaled start (the kid IQ
regression's defaults: ~600,000 eager steps a draw before the bound) does not hang."""

import pytest

pytest.importorskip("pyro")

from ppl.backends.pyro.mcmc import MAX_LEAPFROG_STEPS, _BoundedHMC  # noqa: E402


def _potential(params):
    return (params["z"] ** 2).sum()


def test_tiny_step_sizes_take_at_most_the_bound():
    assert _BoundedHMC(potential_fn=_potential, step_size=1e-6).num_steps == MAX_LEAPFROG_STEPS


def test_ordinary_step_sizes_keep_the_trajectory_length():
    # 2 pi / 0.1 = 62.8 steps, as Pyro's own HMC takes
    assert _BoundedHMC(potential_fn=_potential, step_size=0.1).num_steps == 62
