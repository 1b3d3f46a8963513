"""Posterior and prior predictive draws are the same on both backends (issue 24, item 7).

Before: on Pyro, new inputs failed for a model with a data-sized ``deterministic`` site (its
posterior values, 60 wide, were conditioned on); NumPyro returned ``factor`` sites (shape
``(n, 0)``); there was no prior predictive.
"""

from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl import dist, ops

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 2))
Y = X @ np.array([1.0, -1.0]) + 0.5 + 0.3 * RNG.normal(size=60)
X_NEW = RNG.normal(size=(2, 2))


def model(X, y=None):
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    ppl.factor("penalty", -0.5 * ops.sum(w**2))
    with ppl.plate("data", X.shape[0]):
        mu = ppl.deterministic("mu", ops.matmul(X, w) + b)
        ppl.sample("y", dist.Normal(mu, 0.3), obs=y)


@pytest.fixture(scope="module", params=["numpyro", "pyro"])
def posterior(request):
    return ppl.infer(
        model,
        "nuts",
        args=(X,),
        kwargs={"y": Y},
        backend=request.param,
        num_warmup=50,
        num_samples=20,
        progress=False,
    )


def test_posterior_predictive_on_new_inputs_gives_observed_and_deterministic_sites(posterior):
    draws = posterior.predictive((X_NEW,))
    assert {k: v.shape for k, v in draws.items()} == {"mu": (20, 2), "y": (20, 2)}
    w, b = posterior.samples["w"][0], posterior.samples["b"][0]
    # the deterministic site is recomputed from each latent draw and the new inputs
    np.testing.assert_allclose(draws["mu"], w @ X_NEW.T + b[:, None], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_prior_predictive_draws_every_site_but_factors(backend):
    draws = ppl.predictive(model, args=(X_NEW,), num_samples=2000, backend=backend, seed=1)
    shapes = {k: v.shape for k, v in draws.items()}
    assert shapes == {"w": (2000, 2), "b": (2000,), "mu": (2000, 2), "y": (2000, 2)}
    # b ~ Normal(0, 1): over 2000 draws the mean has sd 1/sqrt(2000) = 0.022 (4 sd: 0.09), the
    # sd has sd 1/sqrt(2 * 2000) = 0.016 (4.4 sd: 0.07)
    assert abs(draws["b"].mean()) < 0.09 and abs(draws["b"].std() - 1.0) < 0.07
    np.testing.assert_allclose(
        draws["mu"], draws["w"] @ X_NEW.T + draws["b"][:, None], rtol=1e-4, atol=1e-4
    )


def test_prior_predictive_refuses_a_bad_count():
    with pytest.raises(ppl.errors.OptionError, match="num_samples must be an integer >= 1"):
        ppl.predictive(model, args=(X_NEW,), num_samples=0)
