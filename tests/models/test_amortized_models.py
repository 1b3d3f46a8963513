"""The amortized models (``vae_digits``, ``amortized_regression``) and the held-out
log-likelihood estimator: exact where the guide is the exact posterior, and a short fit."""

import math

import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.inference.amortized import held_out_log_likelihood
from ppl.models import amortized as models


def exact_guide(x, y):
    """The exact posterior of each group's ``alpha`` given the population parameters: with it
    every importance weight is ``p(y_g)``, so the estimate is exact for any number of draws."""
    mu, beta = ppl.param("mu", 0.0), ppl.param("beta", 0.0)
    tau = ppl.param("tau", 1.0, constraint=dist.constraints.positive)
    sigma = ppl.param("sigma", 1.0, constraint=dist.constraints.positive)
    with ppl.plate("groups", x.shape[0]) as idx:
        r = y[idx] - beta * x[idx]
        precision = 1.0 / tau**2 + x.shape[-1] / sigma**2
        mean = (mu / tau**2 + ppl.ops.sum(r, axis=-1) / sigma**2) / precision
        ppl.sample("alpha", dist.Normal(mean, precision**-0.5))


def exact_log_marginal(x, y, mu, tau, beta, sigma):
    """``log p(y_g)``: ``y_g - beta x_g ~ Normal(mu 1, sigma^2 I + tau^2 1 1^T)``."""
    n = x.shape[-1]
    cov = sigma**2 * np.eye(n) + tau**2 * np.ones((n, n))
    r = y - beta * x - mu
    _, logdet = np.linalg.slogdet(cov)
    quad = np.einsum("gi,ij,gj->g", r, np.linalg.inv(cov), r)
    return -0.5 * (quad + logdet + n * math.log(2 * math.pi))


def test_held_out_log_likelihood_is_exact_with_the_exact_guide(backend):
    (_, _), (x, y) = models.regression_data()
    truth = models.TRUTH
    params = {k: np.float32(v) for k, v in truth.items()}
    ll = held_out_log_likelihood(
        models.amortized_regression,
        exact_guide,
        params,
        (x, y),
        num_particles=20,
        backend=backend.name,
    )
    want = exact_log_marginal(x, y, **truth)
    # float32 arithmetic over 10 observations per group: agreement to ~1e-4 relative
    np.testing.assert_allclose(ll.per_item, want, rtol=1e-4, atol=1e-3)
    assert ll.mean == pytest.approx(want.mean(), rel=1e-4)
    assert ll.stderr == pytest.approx(want.std(ddof=1) / math.sqrt(len(want)), rel=1e-3)


def test_digits_data_and_shapes():
    train, test = models.digits()
    assert train.shape == (1437, 64) and test.shape == (360, 64)
    assert set(np.unique(train)) == {0.0, 1.0}
    spec = ppl.models.get("vae_digits")
    assert spec.local_latents and spec.guide is models.vae_guide


@pytest.mark.slow  # ~30 s for the two fits
def test_amortized_regression_fit_recovers_the_population(backend):
    """A short svi fit with minibatches of groups: the population parameters land near the
    values the data were drawn with (160 groups: the MLE's sd is ~0.07 for mu and tau; the
    tolerance 0.3 also covers an encoder still short of the exact posterior)."""
    spec = ppl.models.get("amortized_regression")
    post = ppl.infer(
        spec.model,
        "svi",
        args=spec.args,
        guide=spec.guide,
        batch_size=40,
        num_steps=1500,
        lr=0.02,
        tol=0,
        backend=backend.name,
        progress=False,
    )
    for name in ("mu", "beta", "sigma", "tau"):
        assert float(post.params[name]) == pytest.approx(models.TRUTH[name], abs=0.3), name
    ll = post.held_out_log_likelihood(spec.test_args, num_particles=100)
    exact = exact_log_marginal(*spec.test_args, **models.TRUTH).mean()
    assert ll.mean == pytest.approx(exact, abs=1.0)  # fitted vs true parameters: within a nat
