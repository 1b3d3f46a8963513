"""``ppl.reparam`` leaves the model's distribution unchanged, on both backends.

Moments of prior draws are compared with the closed form. With N = 4000 i.i.d. draws from
N(loc, scale), the standard error of the sample mean is scale / sqrt(N) (0.032 for scale 2) and
that of the sample standard deviation about scale / sqrt(2 N) (0.022); the tolerances are five
standard errors, so a correct reparameterization fails with probability < 1e-6 per check, while
a wrong one (a lost loc, a squared scale) is off by at least 0.5.
"""

from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl import dist, handlers, ops
from ppl.reparam import LocScale, Transform

N, LOC, SCALE = 4000, 1.0, 2.0
MEAN_TOL, SD_TOL = 5 * SCALE / np.sqrt(N), 5 * SCALE / np.sqrt(2 * N)


def draws():
    with ppl.plate("draws", N):
        ppl.sample("x", dist.Normal(LOC, SCALE))


def _loc_scale_half():
    return LocScale(centered=0.5)


def _loc_scale_zero():
    return LocScale(centered=0.0)


def _affine():
    return Transform(dist.transforms.AffineTransform(LOC, SCALE))


@pytest.mark.parametrize(
    "make", [_loc_scale_zero, _loc_scale_half, _affine], ids=lambda f: f.__name__
)
def test_reparam_leaves_the_distribution_unchanged(backend, make):
    model = handlers.reparam(draws, config={"x": make()})
    tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    aux = [name for name in tr.sample_sites(observed=False) if name != "x"]
    assert aux, "the reparameterized site must be drawn through an auxiliary site"
    x = np.asarray(ops.to_numpy(tr["x"].value))
    assert x.shape == (N,)
    assert abs(x.mean() - LOC) < MEAN_TOL
    assert abs(x.std() - SCALE) < SD_TOL


def test_noncentred_auxiliary_is_standard_normal(backend):
    model = handlers.reparam(draws, config={"x": LocScale(centered=0.0)})
    tr = handlers.trace(handlers.seed(model, rng_seed=1)).get_trace()
    z = np.asarray(ops.to_numpy(tr["x_decentered"].value))
    assert abs(z.mean()) < 5 / np.sqrt(N)
    assert abs(z.std() - 1.0) < 5 / np.sqrt(2 * N)


def test_transform_reparam_of_a_transformed_distribution(backend):
    def model():
        base = dist.Normal(0.0, 1.0)
        ppl.sample("x", dist.TransformedDistribution(base, [dist.transforms.ExpTransform()]))

    tr = handlers.trace(
        handlers.seed(handlers.reparam(model, config={"x": Transform()}), rng_seed=0)
    ).get_trace()
    assert float(tr["x"].value) == pytest.approx(np.exp(float(tr["x_base"].value)), rel=1e-5)


def test_reparam_config_may_be_a_function_of_the_site(backend):
    model = handlers.reparam(draws, config=lambda site: LocScale(0.0) if site.name == "x" else None)
    tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    assert "x_decentered" in tr


def test_reparameterized_site_is_deterministic_and_reaches_the_draws(backend):
    # Pyro records a site that LocScale decentres as an observed Delta, NumPyro as a
    # deterministic site; both must read as deterministic, with the site's value in the draws.
    def model():
        ppl.sample("x", dist.Normal(LOC, SCALE))

    model = handlers.reparam(model, config={"x": LocScale(centered=0.0)})
    tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    assert tr["x"].type == "deterministic"
    problem = backend.problem(model, (), {})
    z = problem.init(backend.key(0))
    values = problem.constrain(z)
    assert list(problem.layout.names) == ["x_decentered"]
    x = float(ops.to_numpy(values["x"]))
    assert x == pytest.approx(LOC + SCALE * float(ops.to_numpy(values["x_decentered"])), rel=1e-5)
