"""SVI objectives written once, as losses of importance log-weights.

A log-weight objective is a function ``f(log_weights) -> scalar loss`` of an array (a user writes
it with ``ppl.ops``; the named ones here are written once against the array API, in
``ppl.core.vi``, which the backends read, and are re-exported here).
At every step the backend draws ``K = num_particles`` reparameterized samples ``z_i`` from the
guide ``q`` and hands ``f`` the ``(K,)`` array of ``log_weights[i] = log p(x, z_i) - log q(z_i)``
(the model's log joint, with its plate scaling, at the guide's draw); the optimizer minimizes
``f`` by differentiating through the draws (the pathwise gradient; ``chi2``, below, holds them
fixed instead). So ``elbo`` is
``-mean(w)``, ``iwae`` is ``-(logsumexp(w) - log K)`` and ``chi2`` is
``(logsumexp(2 w) - log K) / 2``; a user passes their own ``f`` as ``objective=f``.

``chi2`` is the proposal objective of variational importance sampling (VIS; Li, Wang, Li and Wu,
"Forward chi^2 Divergence Based Variational Importance Sampling", ICLR 2024): it minimizes the
forward chi-square divergence ``chi2(p(z|x) || q) = E_q[w^2] / p(x)^2 - 1`` with
``w = p(x, z) / q(z)``, which is, since ``p(x)`` does not depend on ``q``, minimizing
``log V(q) = log E_q[w^2]``, the variance of the importance-sampling estimate of ``p(x)`` with
proposal ``q`` (up to a constant). The loss is ``log V`` estimated from ``K`` draws and halved,
``(logsumexp(2 w_i) - log K) / 2``: the chi upper bound CUBO_2, which lies above ``log p(x)``
for large ``K`` and reaches it when ``q`` is the posterior (the ``loss`` in ``sample_stats``).
Its gradient is the score-function one of the paper: the draws ``z_i`` are held fixed (no
gradient flows through them) while ``log q(z_i)`` is differentiated, so the loss's gradient is
``-sum_i s_i grad_phi log q(z_i)`` with ``s_i = w_i^2 / sum_j w_j^2``, the self-normalized
estimate of ``grad log V = -E_q[w^2 grad log q] / E_q[w^2]`` (consistent as ``K`` grows, biased
for finite ``K``; a weighted maximum-likelihood step towards the heavily weighted draws). The
pathwise gradient of the same loss is not used: while ``q`` is narrower than the posterior,
``E_q[w^2]`` is infinite but its estimate from ``q``'s own draws shrinks with ``q``'s scale, and
the pathwise step collapses ``q``. So ``chi2`` needs guides whose density can be evaluated at a
given point: the Gaussian guides and ``iaf``; ``bnaf`` (no inverse) and the point-mass guides
``delta`` and ``laplace`` (whose forward chi-square is infinite) are refused. VIS also fits
the model's own parameters by maximizing the importance-sampling estimate of ``log p(x)``. With
global latent sites ``chi2`` here fits guides only, and a model that declares ``param`` sites is
refused (use ``elbo`` or ``iwae`` for those). With local latent sites (an amortized model, a
VAE: ``ppl.inference.amortized``) a model's parameters are trained: from the same draws, the
guide minimizes the CUBO and the model maximizes the importance-weighted bound, each set of
parameters getting its own objective's gradient only (``ppl.core.local_vi.chi2_model_loss``;
minimizing the CUBO over the model's parameters would push ``log p(x)`` down). A minimizer of
the forward chi-square is mass-covering: where the guide family cannot match the posterior,
``q`` errs wide (``E_q[w^2]`` is infinite wherever ``q`` has lighter tails than ``p``), which is
what an importance proposal needs.

>>> import numpy as np
>>> import ppl
>>> from ppl import ops
>>> from ppl.inference import objectives
>>> with ppl.backend("numpyro"):
...     w = ops.asarray(np.array([-1.0, -1.0, -1.0]))
...     print(float(objectives.elbo(w)), float(objectives.iwae(w)), float(objectives.chi2(w)))
1.0 1.0 -1.0
"""

from __future__ import annotations

from ..core.vi import (
    CHI2_PARTICLES,
    LOG_WEIGHT_OBJECTIVES,
    POINT_MASS_GUIDES,
    check_model_params,
    chi2,
    elbo,
    evaluate,
    iwae,
    loss_function,
    num_particles,
    score_function,
)

__all__ = [
    "elbo",
    "iwae",
    "chi2",
    "LOG_WEIGHT_OBJECTIVES",
    "CHI2_PARTICLES",
    "loss_function",
    "num_particles",
    "evaluate",
    "check_model_params",
    "score_function",
    "POINT_MASS_GUIDES",
]
