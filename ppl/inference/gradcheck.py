"""Many independent ELBO-gradient estimates at once, to check an estimator for bias and measure
its variance: the Gamma-Poisson model, whose ELBO gradient is known in closed form.

Model ``lam ~ Gamma(a0, b0)``, ``counts[i] ~ Poisson(lam)``; guide ``lam ~ Gamma(alpha, beta)``.
With ``S = sum(counts)``, ``N = len(counts)`` and the trigamma function ``psi1``, the negative
ELBO (the loss) has the gradient::

    d loss / d alpha = -[(S + a0 - alpha) psi1(alpha) - (N + b0) / beta + 1]
    d loss / d beta  = -[-(S + a0) / beta + (N + b0) alpha / beta ** 2]

``gradient_draws`` runs the backend's own ELBO on ``num_draws`` copies of the model in a plate,
each with its own copy of ``(alpha, beta)``, so one backward pass gives ``num_draws`` independent
single-particle gradient estimates.

``noise_estimate`` writes the ``AcceptReject(boost=0)`` estimate out by hand (numpy, no
backend) as a function of the accepted noise, and ``quadrature_gradient`` integrates it against
the accepted-noise density by adaptive quadrature: its exact expectation, to compare with
``elbo_gradient`` where Monte Carlo cannot (``alpha <= 2/3``, where its variance is infinite).

>>> import numpy as np
>>> counts = np.array([2.0, 4.0, 3.0])
>>> exact = elbo_gradient(2.0, 1.0, counts)
>>> draws = gradient_draws("implicit", 2.0, 1.0, counts, num_draws=4000, seed=0)
>>> se = draws.std(0) / np.sqrt(4000)
>>> bool(np.all(np.abs(draws.mean(0) - exact) < 5 * se))
True
"""

from __future__ import annotations

import numpy as np
from scipy import integrate
from scipy.special import digamma, gammaln, polygamma

from .. import distributions as dist
from .. import ops
from ..backends import get_backend
from ..handlers import reparam, substitute
from ..primitives import param, plate, sample
from ..reparam import Reparam
from .svi import Options, estimator_strategies

__all__ = ["elbo_gradient", "gradient_draws", "noise_estimate", "quadrature_gradient"]


def elbo_gradient(alpha, beta, counts, a0: float = 1.0, b0: float = 1.0) -> np.ndarray:
    """The exact gradient ``[d/d alpha, d/d beta]`` of the negative ELBO (module docstring)."""
    counts = np.asarray(counts, dtype=float)
    s, n = counts.sum(), len(counts)
    d_alpha = (s + a0 - alpha) * polygamma(1, alpha) - (n + b0) / beta + 1.0
    d_beta = -(s + a0) / beta + (n + b0) * alpha / beta**2
    return -np.array([d_alpha, d_beta])


def gradient_draws(
    estimator,
    alpha: float,
    beta: float,
    counts,
    num_draws: int = 20_000,
    seed: int = 0,
    objective: str = "tracegraph_elbo",
    a0: float = 1.0,
    b0: float = 1.0,
    values: dict | None = None,
) -> np.ndarray:
    """``num_draws`` independent estimates of the negative ELBO's gradient in
    ``(alpha, beta)``, shape ``(num_draws, 2)``, on the active backend.

    Parameters
    ----------
    estimator : str or Reparam
        ``"accept_reject"``, ``"score"``, ``"implicit"`` or a ``ppl.reparam`` strategy for the
        guide site ``lam``.
    objective : str
        The ``svi`` objective whose backend ELBO computes the loss.
    values : dict, optional
        Values of guide sites, shape ``(num_draws, 1)``, substituted for their draws (e.g. the
        ``AcceptReject`` site ``lam_proposal``, to evaluate the estimator at chosen noise).
    """
    backend = get_backend()
    counts = backend.asarray(np.asarray(counts, dtype=float))
    n = int(counts.shape[0])
    strategy = estimator if isinstance(estimator, Reparam) else None
    strategies = estimator_strategies((("lam", strategy or estimator),))

    def model(counts):
        with plate("draws", num_draws, dim=-2):
            lam = sample("lam", dist.Gamma(a0, b0))
            with plate("data", n, dim=-1):
                sample("counts", dist.Poisson(lam), obs=counts)

    def guide(counts):
        a = param("alpha", alpha * ops.ones((num_draws, 1)))
        b = param("beta", beta * ops.ones((num_draws, 1)))
        with plate("draws", num_draws, dim=-2):
            sample("lam", dist.Gamma(a, b))

    guide = reparam(guide, config=strategies)
    if values:
        guide = substitute(
            guide, data={k: backend.asarray(np.asarray(v)) for k, v in values.items()}
        )
    options = Options(guide=guide, objective=objective)
    runner = backend.svi(model, (counts,), {}, options)
    init_key, loss_key = backend.split(backend.key(seed))
    state = runner.init(init_key, None)
    _, grads = runner.loss_and_grads(state, loss_key)
    d_alpha = backend.to_numpy(grads["alpha"]).reshape(-1)
    d_beta = backend.to_numpy(grads["beta"]).reshape(-1)
    return np.stack([d_alpha, d_beta], axis=-1).astype(np.float64)


def noise_estimate(t, alpha, beta, counts, a0: float = 1.0, b0: float = 1.0) -> np.ndarray:
    """The ``AcceptReject(boost=0)`` estimate of the negative ELBO's gradient in
    ``(alpha, beta)`` at the accepted noise ``eps``, written as ``t = 1 + eps / sqrt(9 d)``
    (``d = alpha - 1/3``, ``t > 0``), so that noise next to the boundary ``t = 0`` keeps its
    precision; shape ``t.shape + (2,)``.

    With ``h = d t^3``, the site value ``z = h / beta`` and the ELBO integrand
    ``f(z) = log p(z, counts) - log q(z; alpha, beta)``, the estimate of the ELBO's gradient is
    ``(d f / d alpha + f * d log pi / d alpha, d f / d beta)`` at fixed ``eps``: the pathwise term
    and the correction term of ``AcceptReject``. At fixed ``eps``, ``dt/dalpha = -(t - 1) / (2 d)``
    and ``dh/dalpha = t^2 (3 - t) / 2``; ``log pi = log q(h; alpha, 1) + log d / 2 + 2 log t``.

    Examples
    --------
    >>> import numpy as np
    >>> noise_estimate(np.array([0.8, 1.2]), 3.0, 1.0, [2.0, 4.0, 3.0]).shape
    (2, 2)
    """
    t = np.asarray(t, dtype=float)
    counts = np.asarray(counts, dtype=float)
    s, n = counts.sum(), len(counts)
    d = alpha - 1.0 / 3.0
    log_h = np.log(d) + 3.0 * np.log(t)
    z = np.exp(log_h) / beta
    log_z = log_h - np.log(beta)
    shape_coef, rate_coef = a0 + s - alpha, b0 + n - beta
    const = a0 * np.log(b0) - gammaln(a0) - gammaln(counts + 1).sum()
    f = const + shape_coef * log_z - rate_coef * z - alpha * np.log(beta) + gammaln(alpha)
    dh = t**2 * (3.0 - t) / 2.0
    path_alpha = (shape_coef / z - rate_coef) * dh / beta - log_z - np.log(beta) + digamma(alpha)
    score = (
        log_h
        + (alpha - 1.0) * (3.0 - t) / (2.0 * d * t)
        - dh
        - digamma(alpha)
        + 1.0 / (2.0 * d)
        - (t - 1.0) / (d * t)
    )
    d_beta = -shape_coef / beta + rate_coef * z / beta + z - alpha / beta
    return -np.stack([path_alpha + f * score, d_beta], axis=-1)


def noise_density(t, alpha) -> np.ndarray:
    """The density of ``t = 1 + eps / sqrt(9 d)`` for the accepted noise ``eps``: ``h = d t^3``
    is Gamma(alpha, 1), so it is ``q(d t^3; alpha, 1) 3 d t^2``."""
    t = np.asarray(t, dtype=float)
    d = alpha - 1.0 / 3.0
    log_h = np.log(d) + 3.0 * np.log(t)
    return np.exp((alpha - 1.0) * log_h - np.exp(log_h) - gammaln(alpha) + np.log(3 * d * t**2))


def quadrature_gradient(
    alpha, beta, counts, a0: float = 1.0, b0: float = 1.0, power: int = 1, lower: float = 0.0
) -> np.ndarray:
    """``E[noise_estimate ** power]`` over the accepted noise, by adaptive quadrature
    (``scipy.integrate.quad`` on ``(0, 1)``, ``(1, 2)``, ``(2, inf)``, which handles the
    integrable singularity at ``t = 0``); ``power=1`` is the estimator's exact expectation.
    ``lower > 0`` leaves out the noise with ``t < lower`` (to watch a moment that diverges at
    ``t = 0``), and integrates ``(lower, 1)`` one decade at a time.

    Examples
    --------
    >>> import numpy as np
    >>> counts = [2.0, 4.0, 3.0]
    >>> exact = elbo_gradient(0.5, 1.0, counts)
    >>> bool(np.allclose(quadrature_gradient(0.5, 1.0, counts), exact, rtol=1e-9))
    True
    """
    # one piece per decade above ``lower``, where the integrand may be nearly singular
    decades = 10.0 ** np.arange(np.ceil(np.log10(lower)), 0) if lower > 0 else np.zeros(0)
    edges = [lower, *decades[decades > lower], 1.0, 2.0, np.inf]
    out = []
    for k in range(2):

        def integrand(t, k=k):
            return noise_estimate(t, alpha, beta, counts, a0, b0)[..., k] ** power * noise_density(
                t, alpha
            )

        pieces = [
            integrate.quad(integrand, lo, hi, epsabs=0.0, epsrel=1e-12, limit=1000)[0]
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
        out.append(sum(pieces))
    return np.array(out)
