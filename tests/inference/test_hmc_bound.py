"""``hmc`` with a trajectory length (``num_steps=None``): its leapfrog steps per proposal are
bounded by ``max_num_steps`` on both backends, so a step size adapted down to ~1e-5 on a badly
scaled start (kid IQ and the two-component mixture with defaults: ~600,000 steps a draw before
the bound; no draw in 20 minutes on Pyro) does not hang."""

import pytest

import ppl
from ppl import dist
from ppl.errors import OptionError


def model():
    ppl.sample("x", dist.Normal(0.0, 1.0))


def test_numpyro_takes_at_most_the_bound():
    # a fixed step size of 1e-4 would take 2 pi / 1e-4 ~ 62,832 steps a proposal
    post = ppl.infer(
        model, "hmc", backend="numpyro", num_warmup=3, num_samples=3, step_size=1e-4,
        adapt_step_size=False, max_num_steps=16, progress=False,
    )  # fmt: skip
    # ceil(16 eps / eps) may round up by one
    assert 16 <= post.sample_stats["num_steps"].max() <= 17


def test_pyro_takes_at_most_the_bound():
    pytest.importorskip("pyro")
    from ppl.backends.pyro.mcmc import _BoundedHMC

    def potential(params):
        return (params["z"] ** 2).sum()

    assert _BoundedHMC(potential_fn=potential, step_size=1e-6, max_num_steps=16).num_steps == 16
    # 2 pi / 0.1 = 62.8: an ordinary step size keeps Pyro's own count
    assert _BoundedHMC(potential_fn=potential, step_size=0.1, max_num_steps=1024).num_steps == 62


def test_the_bound_must_be_positive():
    with pytest.raises(OptionError, match="max_num_steps must be at least 1"):
        ppl.infer(model, "hmc", max_num_steps=0)
