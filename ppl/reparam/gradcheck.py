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
from scipy.special import polygamma

from .. import distributions as dist
from .. import ops
from ..backends import get_backend
from ..handlers import reparam
from ..primitives import param, plate, sample
from .base import Reparam

__all__ = ["elbo_gradient", "gradient_draws"]


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
    """
    from ..inference.svi import Options, estimator_strategies

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

    options = Options(guide=reparam(guide, config=strategies), objective=objective)
    runner = backend.svi(model, (counts,), {}, options)
    init_key, loss_key = backend.split(backend.key(seed))
    state = runner.init(init_key, None)
    _, grads = runner.loss_and_grads(state, loss_key)
    d_alpha = backend.to_numpy(grads["alpha"]).reshape(-1)
    d_beta = backend.to_numpy(grads["beta"]).reshape(-1)
    return np.stack([d_alpha, d_beta], axis=-1).astype(np.float64)
