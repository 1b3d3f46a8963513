"""pyro-api's conformance suite (``pyroapi.tests``) on both ppl aliases, and an MCMC check.

Every collected pyro-api test runs on ``ppl-pyro`` and ``ppl-numpyro`` with no xfail.
"""

from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl.handlers.pyroapi import register

pyroapi = pytest.importorskip("pyroapi")
from pyroapi import distributions as dist  # noqa: E402
from pyroapi import infer, pyro, pyro_backend  # noqa: E402
from pyroapi.tests import *  # noqa: E402, F401, F403

ALIASES = {"ppl-pyro": "pyro", "ppl-numpyro": "numpyro"}
register()


@pytest.fixture(params=sorted(ALIASES))
def backend(request):
    """pyro-api's fixture: the alias active (it enters the alias's ``handlers.seed``)."""
    with ppl.backend(ALIASES[request.param]), pyro_backend(request.param):
        yield request.param


def test_mcmc_normal_normal(backend):
    """NUTS through the backend's native MCMC on y_i ~ N(mu, 1), mu ~ N(0, 1).

    The posterior is N(sum(y) / (n + 1), 1 / (n + 1)). With N = 400 draws and an effective
    sample size of at least N / 4 (NUTS on a 1-D Gaussian usually reaches N or more), the
    Monte-Carlo standard error of the mean is <= sd * sqrt(4 / N) = sd / 10, and that of the
    variance <= var * sqrt(2 * 4 / N) ~ var / 7; we allow 4 standard errors.
    """
    y_np = np.random.default_rng(0).normal(1.0, 1.0, size=20)
    y = ppl.ops.asarray(y_np)

    def model(y):
        mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
        with pyro.plate("data", y.shape[0]):
            pyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    num = 400
    mcmc = infer.MCMC(infer.NUTS(model), num_samples=num, warmup_steps=200, disable_progbar=True)
    mcmc.run(y)
    draws = np.asarray(ppl.ops.to_numpy(mcmc.get_samples()["mu"]))
    n = len(y_np)
    post_mean, post_var = y_np.sum() / (n + 1), 1.0 / (n + 1)
    assert draws.shape == (num,)
    assert abs(draws.mean() - post_mean) < 4 * np.sqrt(post_var) / 10
    assert abs(draws.var() - post_var) < 4 * post_var / 7
