"""The annealed path and its discretisation, written once for ULA, MCD, CMCD and AIS.

The path ``pi_beta ∝ q0^(1 - beta) pi^beta`` runs over ``K`` steps with ``0 < beta_1 < ... <
beta_K = 1``; ``U_beta = -log pi_beta`` (unnormalised), ``U`` the problem's potential. Step ``k``
(``k = 1..K``) moves ``x_{k-1}`` to ``x_k`` with step size ``eps_k``:

- Langevin (ULA, MCD, CMCD): the forward kernel ``F_k(x_k | x_{k-1}) = N(x_{k-1} - eps_k grad
  U_{beta_k}(x_{k-1}) - eps_k f(x_{k-1}, t_{k-1}), 2 eps_k I)`` and the backward kernel
  ``B_k(x_{k-1} | x_k) = N(x_k - eps_k grad U_{beta_k}(x_k) + eps_k b(x_k, t_k), 2 eps_k I)``,
  with ``t_k = k / K``. ULA: ``f = b = 0`` (the backward kernel is the forward one, reversible
  for ``pi_beta`` in the small-step limit). MCD: ``f = 0``, ``b`` a network. CMCD: ``f = b``,
  one network, the control that corrects the forward drift so the two path measures match
  (Vargas et al. 2024, eq. 18 discretised as in their code). The log-weight of a path is
  ``log pi(x_K) - log q0(x_0) + sum_k [log B_k - log F_k]`` (unnormalised ``pi``); its mean
  exponential is ``Z`` for *any* kernels, trained or not.
- MALA (AIS): ``x_k`` is a Metropolis-adjusted Langevin move leaving ``pi_{beta_k}``
  invariant, and the log-weight is ``sum_k (beta_k - beta_{k-1}) (log pi - log q0)(x_{k-1})``.

The whole path is stored (``Path``), so the log-weights are computed for all steps at once, and a
loss can re-evaluate them under new parameters with the path held fixed (the log-variance loss).

>>> import ppl
>>> from ppl import dist
>>> from ppl.inference.diffusion.base import Options, ULA
>>> from ppl.inference.diffusion.path import Diffusion
>>> def model():
...     ppl.sample("x", dist.Normal(0.0, 2.0).expand([2]).to_event(1))
>>> backend = ppl.get_backend("numpyro")
>>> diffusion = Diffusion(backend.problem(model), Options(K=4), ULA)
>>> theta = diffusion.initial_theta(backend.key(0), init_q0="standard")
>>> path = diffusion.simulate(theta, backend.key(1), 3)
>>> path.x.shape, diffusion.log_weights(theta, path).shape
((5, 3, 2), (3,))
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .. import nn, q0, warm_start

__all__ = ["Diffusion", "Path", "Variant", "step_size_factors"]

#: offset of the cos^2 step-size schedule (as in improved DDPM and the CMCD code)
COSINE_OFFSET = 0.008
#: q0 draws over which the target's curvature is measured
CURVATURE_DRAWS = 64


class Variant(NamedTuple):
    """One member of the family: which drifts carry the network, and the move."""

    name: str
    forward_net: bool
    backward_net: bool
    move: str  # "langevin" or "mala"
    trains: bool

    @property
    def has_net(self) -> bool:
        return self.forward_net or self.backward_net


class Path(NamedTuple):
    """A batch of paths: ``x``, ``u = U(x)`` and ``g = grad U(x)`` at ``x_0..x_K`` (leading axis
    ``K + 1``), and the acceptance indicators of the ``K`` moves (ones for Langevin)."""

    x: Any
    u: Any
    g: Any
    accept: Any


def step_size_factors(schedule: str, K: int) -> np.ndarray:
    """The per-step factors of the step size: ones (``"constant"``) or ``cos^2`` decaying over
    the path (``"cossq"``), evaluated at ``(k - 1) / K`` so the last step is not zero."""
    if schedule == "constant":
        return np.ones(K)
    phase = np.arange(K) / K
    return np.cos((phase + COSINE_OFFSET) / (1 + COSINE_OFFSET) * 0.5 * np.pi) ** 2


class Diffusion:
    """One problem's annealed path for one variant and options; every method is pure in the
    parameters ``theta`` (a dict of arrays; ``initial_theta`` makes one)."""

    def __init__(self, problem, options, variant: Variant):
        self.problem, self.options, self.variant = problem, options, variant
        self.backend = backend = problem.backend
        self.xp, self.K, self.dim = backend.xp, options.K, problem.dim
        self.potential_and_grad = warm_start.potential_and_grad(problem)
        self._sched = step_size_factors(options.schedule, self.K)
        self._cumsum = np.tril(np.ones((self.K, self.K)))
        self._times = np.arange(self.K + 1) / self.K
        self.sample_fn = backend.jit(self._sample, static_argnums=2)

    # ---- parameters --------------------------------------------------------------------
    def initial_theta(self, key, init_q0: str | None = None) -> dict:
        """All parameters at their initial values: ``q0`` (by ``init_q0``, default the
        option), a linear ``beta`` schedule, the step size and, for MCD/CMCD, the network (zero
        output). Constants the parameters are measured in ride along: ``curvature`` (of the
        target and of ``q0``, see ``step_sizes``), ``net_loc``/``net_scale`` (the network's
        input standardisation) and, with ``warm_start``, ``warm`` (the
        ``ppl.inference.warm_start.WarmStart`` in whose whitened coordinates the whole path
        runs; ``sample`` maps the end points back)."""
        o, backend, xp = self.options, self.backend, self.xp
        q0_key, net_key, curvature_key = backend.split(key, 3)
        start = None
        if o.warm_start:
            warm_key, q0_key = backend.split(q0_key)
            start = warm_start.laplace_start(
                self.problem, warm_key, fallback_lr=o.vi_lr, batch_size=o.batch_size
            )
        loc, log_scale = q0.initial(
            self.problem,
            q0_key,
            init_q0 or o.init_q0,
            init_scale=o.init_scale,
            vi_steps=o.vi_steps,
            vi_lr=o.vi_lr,
            batch_size=o.batch_size,
            start=start,
            vi_starts=o.vi_starts,
        )
        theta = {
            "q0_loc": loc,
            "q0_log_scale": log_scale,
            "beta_logits": xp.zeros((self.K,), dtype=loc.dtype),
            "log_eps": backend.asarray(math.log(o.eps)),
            "curvature": self._curvature(curvature_key, loc, log_scale, start),
        }
        if start is not None:
            theta["warm"] = start
        if self.variant.has_net:
            theta["net"] = nn.time_mlp_init(
                backend, net_key, self.dim, tuple(o.hidden), o.embed_dim, final_scale=0.0
            )
            theta["net_loc"], theta["net_scale"] = q0.moments(xp, loc, log_scale)
        return theta

    def betas(self, theta):
        """``beta_1..beta_K``: the cumulative softmax of ``beta_logits`` (ending at 1)."""
        xp, logits = self.xp, theta["beta_logits"]
        weights = xp.exp(logits - self.backend.logsumexp(logits))
        return xp.matmul(self.backend.asarray(self._cumsum), weights)

    def step_sizes(self, theta):
        """``eps_1..eps_K``: ``exp(log_eps)`` times the schedule's factors, divided by the
        curvature of ``U_beta_k``, ``beta_k L + (1 - beta_k) L0`` (``L``: the target's, ``L0``:
        the initial ``q0``'s, both measured once at the start), so ``eps`` is dimensionless:
        the same value suits targets of any scale, and steps shrink as the path sharpens."""
        betas = self.betas(theta)
        target, start = theta["curvature"][0], theta["curvature"][1]
        scale = self.xp.exp(theta["log_eps"]) * self.backend.asarray(self._sched)
        return scale / (betas * target + (1.0 - betas) * start)

    def _curvature(self, key, loc, log_scale, start):
        """``[L, L0]``: the median over ``q0`` draws ``x`` of ``|grad U(x') - grad U(x)| /
        |x' - x|`` for a nearby ``x'`` (a tenth of ``q0``'s scale away), and the same for
        ``-log q0``, ``sqrt(mean(scale^-4))``."""
        backend, xp = self.backend, self.xp
        draw_key, step_key = backend.split(key)
        x = q0.sample(backend, loc, log_scale, draw_key, CURVATURE_DRAWS)
        sd = q0.moments(xp, loc, log_scale)[1]
        x_near = x + 0.1 * sd * backend.normal(step_key, tuple(x.shape))
        (_, g), (_, g_near) = (
            self.potential_and_grad(start, x),
            self.potential_and_grad(start, x_near),
        )
        ratios = backend.to_numpy(
            xp.sqrt(xp.sum((g_near - g) ** 2, axis=-1) / xp.sum((x_near - x) ** 2, axis=-1))
        )
        start = float(np.sqrt(np.mean(np.exp(-4.0 * backend.to_numpy(log_scale)))))
        ratios = ratios[np.isfinite(ratios) & (ratios > 0)]
        target = float(np.median(ratios)) if len(ratios) else start
        return backend.asarray(np.array([target, start]))

    # ---- drifts ------------------------------------------------------------------------
    def _grad_u_beta(self, theta, x, g, beta):
        clip = self.options.score_clip
        return beta * self.xp.clip(g, -clip, clip) + (1.0 - beta) * q0.grad_potential(
            self.xp, theta["q0_loc"], theta["q0_log_scale"], x
        )

    def _net(self, theta, x, t):
        loc, scale = theta["net_loc"], theta["net_scale"]
        out = nn.time_mlp_apply(
            self.backend, theta["net"], (x - loc) / scale, t, self.options.activation
        )
        return out / scale

    def _u_beta(self, theta, x, u, beta):
        return beta * u - (1.0 - beta) * q0.log_prob(
            self.xp, theta["q0_loc"], theta["q0_log_scale"], x
        )

    # ---- simulation --------------------------------------------------------------------
    def _langevin(self, theta, x, u, g, beta, eps, t, key):
        mean = x - eps * self._grad_u_beta(theta, x, g, beta)
        if self.variant.forward_net:
            mean = mean - eps * self._net(theta, x, t)
        x_new = mean + self.xp.sqrt(2.0 * eps) * self.backend.normal(key, tuple(x.shape))
        u_new, g_new = self.potential_and_grad(theta.get("warm"), x_new)
        return x_new, u_new, g_new, self.xp.ones_like(u_new)

    def _mala(self, theta, x, u, g, beta, eps, t, key):
        xp, backend = self.xp, self.backend
        move_key, accept_key = backend.split(key)
        mean = x - eps * self._grad_u_beta(theta, x, g, beta)
        proposal = mean + xp.sqrt(2.0 * eps) * backend.normal(move_key, tuple(x.shape))
        u_p, g_p = self.potential_and_grad(theta.get("warm"), proposal)
        mean_back = proposal - eps * self._grad_u_beta(theta, proposal, g_p, beta)
        log_ratio = (
            self._u_beta(theta, x, u, beta)
            - self._u_beta(theta, proposal, u_p, beta)
            + (xp.sum((proposal - mean) ** 2, axis=-1) - xp.sum((x - mean_back) ** 2, axis=-1))
            / (4.0 * eps)
        )
        accept = xp.log(backend.uniform(accept_key, tuple(u.shape))) < log_ratio  # NaN: reject
        return (
            xp.where(accept[:, None], proposal, x),
            xp.where(accept, u_p, u),
            xp.where(accept[:, None], g_p, g),
            xp.astype(accept, u.dtype),
        )

    def simulate(self, theta, key, num: int) -> Path:
        """``num`` paths from ``x_0 ~ q0`` (reparameterised: differentiable in ``theta``)."""
        backend, xp = self.backend, self.xp
        keys = backend.split(key, self.K + 1)
        x0 = q0.sample(backend, theta["q0_loc"], theta["q0_log_scale"], keys[0], num)
        u0, g0 = self.potential_and_grad(theta.get("warm"), x0)
        move = self._mala if self.variant.move == "mala" else self._langevin

        def body(carry, inputs):
            step_key, beta, eps, t = inputs
            x, u, g, accept = move(theta, *carry, beta, eps, t, step_key)
            return (x, u, g), (x, u, g, accept)

        inputs = (keys[1:], self.betas(theta), self.step_sizes(theta), self._time(0, -1))
        _, (xs, us, gs, accepts) = backend.scan(body, (x0, u0, g0), inputs)
        return Path(
            xp.concat([x0[None], xs]), xp.concat([u0[None], us]), xp.concat([g0[None], gs]), accepts
        )

    def _time(self, start, stop):
        return self.backend.asarray(self._times[start : stop if stop else None])

    # ---- log-weights -------------------------------------------------------------------
    def log_weights(self, theta, path: Path):
        """Each path's log importance weight against the unnormalised target (see above)."""
        if self.variant.move == "mala":
            return self._ais_log_weights(theta, path)
        xp = self.xp
        beta = self.betas(theta)[:, None, None]
        eps = self.step_sizes(theta)[:, None, None]
        x_prev, x_next, g_prev, g_next = path.x[:-1], path.x[1:], path.g[:-1], path.g[1:]
        mean_f = x_prev - eps * self._grad_u_beta(theta, x_prev, g_prev, beta)
        mean_b = x_next - eps * self._grad_u_beta(theta, x_next, g_next, beta)
        if self.variant.forward_net:
            mean_f = mean_f - eps * self._net(theta, x_prev, self._time(0, -1)[:, None])
        if self.variant.backward_net:
            mean_b = mean_b + eps * self._net(theta, x_next, self._time(1, None)[:, None])
        # log B - log F: both Gaussians have covariance 2 eps_k I, so the normalisers cancel
        log_b_minus_f = (
            xp.sum((x_next - mean_f) ** 2, axis=-1) - xp.sum((x_prev - mean_b) ** 2, axis=-1)
        ) / (4.0 * eps[..., 0])
        log_q0 = q0.log_prob(xp, theta["q0_loc"], theta["q0_log_scale"], path.x[0])
        return xp.sum(log_b_minus_f, axis=0) - path.u[-1] - log_q0

    def _ais_log_weights(self, theta, path: Path):
        xp = self.xp
        betas = self.betas(theta)
        increments = betas - xp.concat([xp.zeros_like(betas[:1]), betas[:-1]])
        x = path.x[:-1]
        log_q0 = q0.log_prob(xp, theta["q0_loc"], theta["q0_log_scale"], x)
        return xp.sum(increments[:, None] * (-path.u[:-1] - log_q0), axis=0)

    # ---- losses and draws --------------------------------------------------------------
    def loss(self, name: str, params: dict, fixed: dict, key, num: int):
        """``f(params) -> (loss, log-weights of the batch)`` for the trainable ``params``
        (merged over the ``fixed`` ones) on ``num`` paths drawn with ``key``.

        ``"kl"``: the reverse KL between the forward and backward path measures up to ``log Z``,
        ``mean(-log w)`` over reparameterised paths (the negative ELBO). ``"logvar"``: the
        variance of ``log w`` over paths simulated once from the current parameters and held
        fixed, so no gradient flows through them (Richter & Berner 2024)."""
        xp = self.xp
        if name == "logvar":
            path = self.simulate({**fixed, **params}, key, num)

            def logvar(trainable):
                w = self.log_weights({**fixed, **trainable}, path)
                return xp.mean((w - xp.mean(w)) ** 2), w

            return logvar

        def kl(trainable):
            theta = {**fixed, **trainable}
            w = self.log_weights(theta, self.simulate(theta, key, num))
            return -xp.mean(w), w

        return kl

    def _sample(self, theta, key, num):
        path = self.simulate(theta, key, num)
        x = warm_start.to_target(self.xp, theta.get("warm"), path.x[-1])
        return x, self.log_weights(theta, path)

    def sample(self, theta, key, num: int):
        """``(x_K, log w)`` of ``num`` fresh paths (``x_K`` in the problem's coordinates)."""
        return self.sample_fn(theta, key, num)
