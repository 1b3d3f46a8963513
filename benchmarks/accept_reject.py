"""Variance of ELBO-gradient estimators for a Gamma guide site: accept-reject (Naesseth et al.
2017, boost 0, 1, 3, 10), the score function with a baseline, and the backend's implicit
reparameterization; prints a markdown table.

python -m benchmarks.accept_reject [--backends numpyro pyro] [--draws 20000]

The model is issue 6's Gamma-Poisson (prior Gamma(1, 1), N=10 Poisson counts with true rate 3,
the counts of ``tests/reparam``); the guide is Gamma(alpha, beta) with ``beta = alpha / 3``,
where the guide mean is the posterior mean and the exact d/dbeta is zero. Each cell is the
sample variance of ``--draws`` independent single-particle estimates of the negative ELBO's
gradient (``ppl.inference.gradcheck.gradient_draws``, the backend's own ``TraceGraph_ELBO``),
float64, per component (d/dalpha, d/dbeta). The relative standard error of the d/dalpha
variance is ``sqrt((m4 / var^2 - 1) / draws)`` from the sample fourth central moment ``m4``
(itself meaningless where the fourth moment is infinite: boost 0 at alpha 0.5, where even the
variance is infinite).

The score function's baseline is a constant: the mean of the ELBO integrand
``log p(z, x) - log q(z)`` over ``--draws`` separate draws of ``z`` from the guide (numpy,
another seed), so it is independent of the draws whose variance is measured and the estimator
stays unbiased. ``score (no baseline)`` is the same estimator with the baseline 1 that the
site's own ``-log q`` term gives.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.special import gammaln

import ppl
from ppl.inference.gradcheck import elbo_gradient, gradient_draws
from ppl.reparam import AcceptReject, Implicit, Score

COUNTS = np.random.default_rng(0).poisson(3.0, size=10).astype(float)
ALPHAS = (0.5, 1.5, 3.0, 10.0)
BOOSTS = (0, 1, 3, 10)


def elbo_integrand_mean(alpha, beta, counts, num_draws, seed, a0=1.0, b0=1.0) -> float:
    """The mean of ``log p(z, counts) - log q(z; alpha, beta)`` over ``z ~ Gamma(alpha, beta)``
    drawn by numpy: the score function's baseline."""
    z = np.random.default_rng(seed).gamma(alpha, 1.0 / beta, size=num_draws)

    def log_gamma(x, a, b):
        return a * np.log(b) - gammaln(a) + (a - 1) * np.log(x) - b * x

    log_lik = (counts[:, None] * np.log(z) - z - gammaln(counts + 1)[:, None]).sum(0)
    return float(np.mean(log_gamma(z, a0, b0) + log_lik - log_gamma(z, alpha, beta)))


def estimators(alpha, beta, num_draws, seed):
    baseline = elbo_integrand_mean(alpha, beta, COUNTS, num_draws, seed + 1000)
    rows = {f"accept-reject boost {b}": AcceptReject(b) for b in BOOSTS}
    rows[f"score (baseline {baseline:.2f})"] = Score(baseline=baseline)
    rows["score (no baseline)"] = Score()
    rows["implicit"] = Implicit()
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["numpyro", "pyro"])
    parser.add_argument("--draws", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    ppl.set_precision("float64")
    print(
        "| backend | alpha | estimator | var d/dalpha (rel. SE) | var d/dbeta "
        "| score-with-baseline / this (d/dalpha) | mean - exact, in SE (d/dalpha) |"
    )
    print("|---|---:|---|---:|---:|---:|---:|")
    for name in args.backends:
        with ppl.backend(name):
            for alpha in ALPHAS:
                beta = alpha / 3.0
                exact = elbo_gradient(alpha, beta, COUNTS)
                results = {}
                for label, strategy in estimators(alpha, beta, args.draws, args.seed).items():
                    draws = gradient_draws(strategy, alpha, beta, COUNTS, args.draws, args.seed)
                    centred = draws[:, 0] - draws[:, 0].mean()
                    rel_se = np.sqrt(
                        (np.mean(centred**4) / np.mean(centred**2) ** 2 - 1) / len(centred)
                    )
                    results[label] = (draws.var(0, ddof=1), draws[:, 0].mean(), rel_se)
                score = next(v for k, v in results.items() if k.startswith("score (baseline"))
                for label, (var, mean, rel_se) in results.items():
                    z = (mean - exact[0]) / np.sqrt(var[0] / args.draws)
                    print(
                        f"| {name} | {alpha} | {label} | {var[0]:.3g} ({rel_se:.0%}) "
                        f"| {var[1]:.3g} | {score[0][0] / var[0]:.3g} | {z:+.1f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
