"""Conjugate models whose posterior and evidence are known in closed form.

``reference`` holds the exact posterior moments and ``log_z`` the exact log marginal likelihood
(the normalizer of the model's unnormalized posterior density).

>>> import ppl
>>> spec = ppl.models.get("gamma_poisson")
>>> a, b = spec.kwargs["concentration"], spec.kwargs["rate"]
>>> counts = spec.args[0]
>>> bool(abs(spec.reference["lam"]["mean"] - (a + counts.sum()) / (b + len(counts))) < 1e-12)
True
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

import ppl
from ppl import dist

from .spec import ModelSpec

__all__ = [
    "gamma_poisson",
    "dirichlet_multinomial",
    "gamma_poisson_posterior",
    "dirichlet_multinomial_posterior",
]


def gamma_poisson(counts, concentration=2.0, rate=1.0):
    """``lam ~ Gamma(concentration, rate)``, ``counts[i] ~ Poisson(lam)``."""
    lam = ppl.sample("lam", dist.Gamma(concentration, rate))
    with ppl.plate("data", counts.shape[0]):
        ppl.sample("counts", dist.Poisson(lam), obs=counts)


def dirichlet_multinomial(counts, alpha, total_count):
    """``probs ~ Dirichlet(alpha)``, each row ``counts[i] ~ Multinomial(total_count, probs)``."""
    probs = ppl.sample("probs", dist.Dirichlet(alpha))
    with ppl.plate("data", counts.shape[0]):
        ppl.sample("counts", dist.Multinomial(total_count, probs), obs=counts)


def gamma_poisson_posterior(counts, concentration, rate):
    """``(mean, sd, log_z)``: the posterior is ``Gamma(a + sum(counts), b + N)``."""
    counts = np.asarray(counts, dtype=float)
    a, b = concentration + counts.sum(), rate + len(counts)
    log_z = (
        concentration * np.log(rate)
        - gammaln(concentration)
        + gammaln(a)
        - a * np.log(b)
        - gammaln(counts + 1).sum()
    )
    return a / b, np.sqrt(a) / b, float(log_z)


def dirichlet_multinomial_posterior(counts, alpha):
    """``(mean, sd, log_z)``: the posterior is ``Dirichlet(alpha + counts.sum(0))``."""
    counts, alpha = np.atleast_2d(np.asarray(counts, dtype=float)), np.asarray(alpha, dtype=float)
    post = alpha + counts.sum(axis=0)
    total = post.sum()
    mean = post / total
    sd = np.sqrt(post * (total - post) / (total**2 * (total + 1)))
    n = counts.sum(axis=-1)
    log_coef = (gammaln(n + 1) - gammaln(counts + 1).sum(axis=-1)).sum()
    log_beta = lambda a: gammaln(a).sum() - gammaln(a.sum())  # noqa: E731
    return mean, sd, float(log_coef + log_beta(post) - log_beta(alpha))


def gamma_poisson_spec(N: int = 20, seed: int = 0) -> ModelSpec:
    counts = np.random.default_rng(seed).poisson(3.0, size=N).astype(float)
    a, b = 2.0, 1.0
    mean, sd, log_z = gamma_poisson_posterior(counts, a, b)
    return ModelSpec(
        name="gamma_poisson",
        model=gamma_poisson,
        family="conjugate",
        description="Gamma-Poisson rate (N=20): exact posterior and evidence",
        args=(counts,),
        kwargs={"concentration": a, "rate": b},
        reference={"lam": {"mean": np.asarray(mean), "sd": np.asarray(sd)}},
        log_z=log_z,
    )


def dirichlet_multinomial_spec(N: int = 10, K: int = 4, seed: int = 0) -> ModelSpec:
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(20, rng.dirichlet(np.ones(K)), size=N).astype(float)
    alpha = np.linspace(1.0, 2.0, K)
    mean, sd, log_z = dirichlet_multinomial_posterior(counts, alpha)
    return ModelSpec(
        name="dirichlet_multinomial",
        model=dirichlet_multinomial,
        family="conjugate",
        description="Dirichlet-multinomial probabilities (N=10, K=4): exact posterior and evidence",
        args=(counts, alpha, 20),
        reference={"probs": {"mean": mean, "sd": sd}},
        log_z=log_z,
    )
