"""Models with discrete latent sites that are not enumerated: run them with ``gibbs``.

``change_point``: yearly counts with one change point ``tau`` (uniform on ``0..T``: the first
``tau`` counts have rate ``early_rate``, the rest ``late_rate``), Gamma priors on both rates.
With conjugate rates the marginal likelihood of each ``tau`` is closed-form, so the change
point's posterior, and the rates' posterior moments, are exact (``change_point_posterior``).

``zero_inflated_poisson``: a Poisson regression whose every count is a structural zero with
probability ``gate``; the per-observation indicator ``zero`` is a latent Bernoulli site. A
prior draw of the indicators almost surely marks some positive count as a structural zero,
which is impossible, so start them at zero: ``ppl.infer(spec.model, "gibbs", args=spec.args,
kwargs=spec.kwargs, init_values={"zero": np.zeros(len(spec.kwargs["y"]))})``.

>>> import ppl
>>> spec = ppl.models.get("change_point")
>>> spec.discrete, round(float(spec.reference["tau"]["mean"]), 2)
(('tau',), 24.76)
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

import ppl
from ppl import dist, ops

from .spec import ModelSpec

__all__ = [
    "change_point",
    "change_point_data",
    "change_point_posterior",
    "zero_inflated_poisson",
    "zero_inflated_poisson_data",
]


def change_point(counts, concentration=2.0, rate=0.5):
    """``tau ~ Uniform{0..T}``, ``early_rate, late_rate ~ Gamma(concentration, rate)``,
    ``counts[t] ~ Poisson(early_rate if t < tau else late_rate)``."""
    T = counts.shape[0]
    tau = ppl.sample("tau", dist.Categorical(logits=ops.zeros(T + 1)))
    early = ppl.sample("early_rate", dist.Gamma(concentration, rate))
    late = ppl.sample("late_rate", dist.Gamma(concentration, rate))
    with ppl.plate("time", T):
        ppl.sample("counts", dist.Poisson(ops.where(ops.arange(T) < tau, early, late)), obs=counts)


def change_point_data(T: int = 40, tau: int = 24, rates=(3.0, 1.0), seed: int = 0) -> np.ndarray:
    """``T`` Poisson counts, rate ``rates[0]`` before ``tau`` and ``rates[1]`` from it on."""
    rng = np.random.default_rng(seed)
    return rng.poisson(np.where(np.arange(T) < tau, rates[0], rates[1])).astype(float)


def change_point_posterior(counts, concentration=2.0, rate=0.5) -> dict:
    """The exact posterior of ``change_point``: ``{"tau": p(tau | counts) over 0..T,
    "early_rate": (mean, sd), "late_rate": (mean, sd)}``.

    Given ``tau``, each rate is ``Gamma(a + S, b + n)`` over its ``n`` counts of sum ``S``, and
    its segment's marginal likelihood is ``b^a / Gamma(a) * Gamma(a + S) / (b + n)^(a + S)``
    over ``prod(counts!)``; the rates' moments mix the conditional ones over ``p(tau | y)``.
    """
    y = np.asarray(counts, dtype=float)
    a, b, T = concentration, rate, len(y)
    cum = np.concatenate([[0.0], np.cumsum(y)])
    n1, s1 = np.arange(T + 1), cum  # counts before tau: n1 of sum s1
    n2, s2 = T - n1, cum[-1] - cum

    def log_segment(n, s):
        return a * math.log(b) - gammaln(a) + gammaln(a + s) - (a + s) * np.log(b + n)

    log_post = log_segment(n1, s1) + log_segment(n2, s2)
    p = np.exp(log_post - log_post.max())
    p /= p.sum()
    out = {"tau": p}
    for name, n, s in (("early_rate", n1, s1), ("late_rate", n2, s2)):
        shape, inv = a + s, b + n
        mean = np.sum(p * shape / inv)
        second = np.sum(p * shape * (shape + 1) / inv**2)
        out[name] = (float(mean), float(math.sqrt(second - mean**2)))
    return out


def change_point_spec() -> ModelSpec:
    counts = change_point_data()
    exact = change_point_posterior(counts)
    values = np.arange(len(counts) + 1)
    tau_mean = float(np.sum(exact["tau"] * values))
    tau_sd = float(math.sqrt(np.sum(exact["tau"] * (values - tau_mean) ** 2)))
    return ModelSpec(
        name="change_point",
        model=change_point,
        family="discrete",
        description="Poisson counts (T=40) with one change point tau ~ Uniform{0..T} (run gibbs)",
        args=(counts,),
        reference={
            "tau": {"mean": np.asarray(tau_mean), "sd": np.asarray(tau_sd)},
            **{
                name: {"mean": np.asarray(exact[name][0]), "sd": np.asarray(exact[name][1])}
                for name in ("early_rate", "late_rate")
            },
        },
        discrete=("tau",),
    )


def zero_inflated_poisson(X, y=None):
    """``beta ~ N(0, I)``, ``gate ~ Beta(1, 1)``, per observation ``zero ~ Bernoulli(gate)`` and
    ``y ~ Poisson(exp(X beta))`` where ``zero`` is 0, ``y = 0`` where it is 1."""
    beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    gate = ppl.sample("gate", dist.Beta(1.0, 1.0))
    with ppl.plate("data", X.shape[0]):
        zero = ppl.sample("zero", dist.Bernoulli(gate))
        counts = dist.Poisson(ops.exp(ops.matmul(X, beta)))
        ppl.sample("y", counts.mask(zero == 0), obs=y)
        if y is not None:  # a structural zero cannot be a positive count
            ppl.factor("structural_zero", ops.where((zero == 1) & (y > 0), -math.inf, 0.0))


def zero_inflated_poisson_data(N: int = 100, beta=(0.5, 0.8), gate: float = 0.3, seed: int = 0):
    """``(X, y)``: an intercept column and ``len(beta) - 1`` standard normal covariates, and
    counts that are zero with probability ``gate``, else Poisson(exp(X beta))."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(N), rng.normal(size=(N, len(beta) - 1))])
    y = rng.poisson(np.exp(X @ np.asarray(beta))) * (rng.uniform(size=N) >= gate)
    return X, y.astype(float)


def zero_inflated_poisson_spec() -> ModelSpec:
    X, y = zero_inflated_poisson_data()
    return ModelSpec(
        name="zero_inflated_poisson",
        model=zero_inflated_poisson,
        family="discrete",
        description="Zero-inflated Poisson regression (N=100), per-count zero indicators (gibbs)",
        args=(X,),
        kwargs={"y": y},
        discrete=("zero",),
    )
