"""The blocks of a (stochastic) normalizing flow, their path weights and losses, written once.

A flow maps ``z ~ N(0, I)`` through a diagonal affine layer ``x = loc + exp(log_scale) z`` (the
base ``q0``, initialised by ``init_q0``) and ``num_blocks`` RealNVP blocks (two affine coupling
layers each, ``ppl.inference.nn.coupling_apply``, so every coordinate is updated once per
block). An SNF puts a stochastic block after each RealNVP block: ``mc_steps`` steps of a Markov
kernel that leaves ``pi_lambda ∝ q0^(1 - lambda) pi^lambda`` invariant (or nearly, ULA), with
``lambda`` running from 0 after the first block to 1 after the last (as in Wu, Köhler & Noé
2020, whose double-well flow relaxes under the prior, then the mixture, then the target).

Path weights (Wu et al. 2020, eq. 8). A forward path ``z -> x`` has the log-weight

    log w = -U(x) - log N(z) + sum log|det J| + sum_t [log K(x_t | x_{t+1}) - log K(x_{t+1} | x_t)]

over the deterministic layers and the stochastic steps ``x_t -> x_{t+1}``, ``U`` the problem's
potential; ``E[w] = Z`` exactly, for any parameters. For a kernel in detailed balance with
``pi_lambda`` (random-walk Metropolis, MALA) the bracket is ``U_lambda(x_{t+1}) -
U_lambda(x_t)``, so no proposal density is needed; for ULA it is the ratio of the two Gaussian
Langevin transition densities. A reverse path ``x -> z`` from a data point runs the kernels from
``x`` and the coupling layers inverted, and ``log N(z) + sum log|det J^-1| + sum_t [the same
bracket]`` is a stochastic lower bound on ``log q(x)`` (exact for ``realnvp``): the
maximum-likelihood term. Gradients are reparameterised through the noise and the accepted
moves (the accept decision itself is not differentiated, as in the paper).

>>> import ppl
>>> from ppl import dist
>>> from ppl.inference.flows.snf import Options
>>> from ppl.inference.flows.blocks import Flow
>>> def model():
...     ppl.sample("x", dist.Normal(0.0, 2.0).expand([2]).to_event(1))
>>> backend = ppl.get_backend("numpyro")
>>> flow = Flow(backend.problem(model), Options(num_blocks=2, hidden=(8,), mc_steps=3), True)
>>> theta = flow.initial_theta(backend.key(0))
>>> out = flow.forward(theta, backend.key(1), 5)
>>> out.x.shape, out.log_weights.shape, out.layer_ok.shape
((5, 2), (5,), (5,))
>>> flow.layer_names[2]
'coupling layer 1 (RealNVP block 0)'
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from ...errors import ShapeError
from .. import nn, q0, warm_start

__all__ = ["Flow", "ForwardPath", "KERNELS"]

KERNELS = ("mh", "mala", "ula")


class ForwardPath(NamedTuple):
    """A batch of forward paths: the end points ``x`` (in the problem's coordinates), their
    log-weights, whether each layer's
    log-determinant was finite for the whole batch (``(num_layers,)`` booleans, in
    ``Flow.layer_names`` order) and the mean acceptance rate of the stochastic steps."""

    x: Any
    log_weights: Any
    layer_ok: Any
    accept: Any


class Flow:
    """One problem's flow for one set of options (``stochastic``: with the stochastic blocks);
    every method is pure in the parameters ``theta`` (``initial_theta`` makes them)."""

    def __init__(self, problem, options, stochastic: bool):
        self.problem, self.options, self.stochastic = problem, options, stochastic
        self.backend = backend = problem.backend
        self.xp, self.dim = backend.xp, problem.dim
        self.num_couplings = 2 * options.num_blocks
        self.masks = nn.coupling_masks(self.dim, self.num_couplings)
        self.layer_names = ("base affine layer",) + tuple(
            f"coupling layer {j} (RealNVP block {j // 2})" for j in range(self.num_couplings)
        )
        n = options.num_blocks
        self.lambdas = [i / (n - 1) for i in range(n)] if n > 1 else [1.0]
        self.kernel = getattr(options, "kernel", "mh")
        self.mc_steps = getattr(options, "mc_steps", 0) if stochastic else 0
        self.potential = warm_start.potential(problem)
        self.potential_and_grad = warm_start.potential_and_grad(problem)
        self.data = self._check_data(options.data)
        self.sample_fn = backend.jit(self._sample, static_argnums=2)

    def _check_data(self, data):
        if data is None:
            return None
        if data.shape[1] != self.dim:
            layout = ", ".join(
                f"{name!r} {tuple(shape)}"
                for name, shape in zip(self.problem.layout.names, self.problem.layout.shapes)
            )
            raise ShapeError(
                f"data= has {data.shape[1]} columns (shape {data.shape}) but the model's flat "
                f"unconstrained space has dimension {self.dim} (sites {layout}). Pass one row "
                f"per sample with {self.dim} columns, in that site order."
            )
        return self.backend.asarray(np.array(data))  # a writable copy (torch warns otherwise)

    # ---- parameters --------------------------------------------------------------------
    def initial_theta(self, key) -> dict:
        """``loc``/``log_scale`` of the base layer (by ``init_q0``), the coupling layers (the
        identity at first), for an SNF ``log_step`` (one step size per stochastic block) and,
        with ``warm_start``, ``warm``: the ``ppl.inference.warm_start.WarmStart`` in whose
        whitened coordinates the flow runs (its end points are mapped back by ``sample``)."""
        o, backend = self.options, self.backend
        base_key, *layer_keys = backend.split(key, self.num_couplings + 1)
        start = None
        if o.warm_start:
            warm_key, base_key = backend.split(base_key)
            start = warm_start.laplace_start(
                self.problem, warm_key, fallback_lr=o.vi_lr, batch_size=o.batch_size
            )
        loc, log_scale = q0.initial(
            self.problem,
            base_key,
            o.init_q0,
            vi_steps=o.vi_steps,
            vi_lr=o.vi_lr,
            batch_size=o.batch_size,
            start=start,
        )
        theta = {
            "loc": loc,
            "log_scale": log_scale,
            "couplings": [
                nn.coupling_init(backend, k, self.dim, tuple(o.hidden)) for k in layer_keys
            ],
        }
        if self.stochastic:
            log_step = math.log(o.initial_step_size)
            theta["log_step"] = backend.asarray(np.full(o.num_blocks, log_step))
        if start is not None:
            theta["warm"] = start
        return theta

    # ---- stochastic blocks -------------------------------------------------------------
    def _u_lambda(self, theta, x, u, lam):
        """``U_lambda = (1 - lambda) (-log q0) + lambda U`` at ``x`` with ``U(x) = u``."""
        return lam * u - (1.0 - lam) * q0.log_prob(self.xp, theta["loc"], theta["log_scale"], x)

    def _grad_u_lambda(self, theta, x, g, lam):
        return lam * g + (1.0 - lam) * q0.grad_potential(
            self.xp, theta["loc"], theta["log_scale"], x
        )

    def _evaluate(self, theta, x):
        """``(U(x), grad U(x))`` in the flow's coordinates; the gradient only where the kernel
        needs it (zeros for MH)."""
        if self.kernel == "mh":
            u = self.potential(theta.get("warm"), x)
            return u, self.xp.zeros_like(x)
        return self.potential_and_grad(theta.get("warm"), x)

    def _move(self, theta, state, lam, eps, key):
        """One step of the kernel from ``state = (x, u, g)``: the new state, the log ratio
        ``log K(x | x') - log K(x' | x)`` and the acceptance indicator."""
        xp, backend = self.xp, self.backend
        x, u, g = state
        move_key, accept_key = backend.split(key)
        noise = backend.normal(move_key, tuple(x.shape))
        if self.kernel == "mh":  # symmetric random walk: the ratio is pi_lambda(x) / pi_lambda(x')
            proposal = x + eps * noise
        else:
            proposal = x - eps * self._grad_u_lambda(theta, x, g, lam) + xp.sqrt(2.0 * eps) * noise
        u_p, g_p = self._evaluate(theta, proposal)
        delta = self._u_lambda(theta, proposal, u_p, lam) - self._u_lambda(theta, x, u, lam)
        if self.kernel == "mh":
            log_ratio = delta
        else:  # log K(x | x') - log K(x' | x) for the Langevin kernel K (variance 2 eps)
            back = x - proposal + eps * self._grad_u_lambda(theta, proposal, g_p, lam)
            log_ratio = (xp.sum(noise**2, axis=-1) - xp.sum(back**2, axis=-1) / (2.0 * eps)) / 2.0
        if self.kernel == "ula":
            return (proposal, u_p, g_p), log_ratio, xp.ones_like(u)
        # MH and MALA: in detailed balance with pi_lambda, so the ratio is the energy change
        log_accept = log_ratio - delta if self.kernel == "mala" else -delta
        accept = xp.log(backend.uniform(accept_key, tuple(u.shape))) < log_accept  # NaN: reject
        new = (
            xp.where(accept[:, None], proposal, x),
            xp.where(accept, u_p, u),
            xp.where(accept[:, None], g_p, g),
        )
        return new, xp.where(accept, delta, xp.zeros_like(delta)), xp.astype(accept, u.dtype)

    def _relax(self, theta, x, block: int, key):
        """``mc_steps`` kernel steps at ``lambda`` of ``block``: ``(x, U(x), sum of log
        ratios, mean acceptance)``."""
        xp, backend = self.xp, self.backend
        lam = self.lambdas[block]
        eps = xp.exp(theta["log_step"][block])
        u, g = self._evaluate(theta, x)

        def body(carry, step_key):
            state, total = carry
            state, log_ratio, accept = self._move(theta, state, lam, eps, step_key)
            return (state, total + log_ratio), xp.mean(accept)

        keys = backend.split(key, self.mc_steps)
        ((x, u, _), total), accepts = backend.scan(body, ((x, u, g), xp.zeros_like(u)), keys)
        return x, u, total, xp.mean(accepts)

    # ---- paths -------------------------------------------------------------------------
    def _couplings(self, theta, x, block: int, inverse: bool):
        order = (1, 0) if inverse else (0, 1)
        logdets = []
        for j in (2 * block + i for i in order):
            x, logdet = nn.coupling_apply(
                self.backend,
                theta["couplings"][j],
                x,
                self.masks[j],
                inverse=inverse,
                activation=self.options.activation,
            )
            logdets.append((j, logdet))
        return x, logdets

    def forward(self, theta, key, num: int) -> ForwardPath:
        """``num`` forward paths from ``z ~ N(0, I)`` (reparameterised in ``theta``)."""
        xp, backend = self.xp, self.backend
        o = self.options
        keys = backend.split(key, o.num_blocks + 1)
        z = backend.normal(keys[0], (num, self.dim))
        x = theta["loc"] + xp.exp(theta["log_scale"]) * z
        log_w = -q0.log_prob(xp, xp.zeros_like(theta["loc"]), xp.zeros_like(theta["loc"]), z)
        log_w = log_w + xp.sum(theta["log_scale"])
        layer_ok = [xp.all(xp.isfinite(theta["log_scale"]))] + [None] * self.num_couplings
        accepts, u = [], None
        for block in range(o.num_blocks):
            x, logdets = self._couplings(theta, x, block, inverse=False)
            for j, logdet in logdets:
                log_w = log_w + logdet
                layer_ok[j + 1] = xp.all(xp.isfinite(logdet))
            if self.stochastic:
                x, u, log_ratio, accept = self._relax(theta, x, block, keys[block + 1])
                log_w, accepts = log_w + log_ratio, accepts + [accept]
        if u is None:
            u = self.potential(theta.get("warm"), x)
        accept = xp.mean(xp.stack(accepts)) if accepts else xp.ones_like(log_w[0])
        x = warm_start.to_target(xp, theta.get("warm"), x)
        return ForwardPath(x, log_w - u, xp.stack(layer_ok), accept)

    def log_likelihood(self, theta, x, key):
        """The reverse paths' estimate of ``log q(x)`` for each row of ``x`` (in the problem's
        coordinates; exact without stochastic blocks; a stochastic lower bound with them) and
        the layers' finiteness."""
        xp, backend = self.xp, self.backend
        o = self.options
        start = theta.get("warm")
        x = warm_start.from_target(xp, start, x)
        keys = backend.split(key, o.num_blocks)
        total = xp.zeros_like(x[:, 0])
        layer_ok = [None] * (self.num_couplings + 1)
        for block in reversed(range(o.num_blocks)):
            if self.stochastic:
                x, _, log_ratio, _ = self._relax(theta, x, block, keys[block])
                total = total + log_ratio
            x, logdets = self._couplings(theta, x, block, inverse=True)
            for j, logdet in logdets:
                total = total + logdet
                layer_ok[j + 1] = xp.all(xp.isfinite(logdet))
        layer_ok[0] = xp.all(xp.isfinite(theta["log_scale"]))
        z = (x - theta["loc"]) * xp.exp(-theta["log_scale"])
        log_n = q0.log_prob(xp, xp.zeros_like(theta["loc"]), xp.zeros_like(theta["loc"]), z)
        log_q = log_n - xp.sum(theta["log_scale"]) + total
        if start is not None:  # the density of z = shift + factor u
            log_q = log_q - start.log_det
        return log_q, xp.stack(layer_ok)

    def data_batch(self, key, num: int):
        """``num`` rows of ``data`` drawn uniformly with replacement."""
        xp, n = self.xp, self.data.shape[0]
        u = self.backend.uniform(key, (num,))
        index = xp.astype(xp.clip(xp.floor(u * n), 0, n - 1), xp.int32)
        return xp.take(self.data, index, axis=0)

    # ---- draws -------------------------------------------------------------------------
    def _sample(self, theta, key, num):
        path = self.forward(theta, key, num)
        return path.x, path.log_weights

    def sample(self, theta, key, num: int):
        """``(x, log w)`` of ``num`` fresh forward paths (the driver refuses non-finite draws)."""
        return self.sample_fn(theta, key, num)
