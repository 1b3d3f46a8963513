"""Baseline bandit agents in numpy: random play, epsilon-greedy, LinUCB, linear Thompson sampling
with a Gaussian prior, and a Lasso bandit.

Every agent has ``act(context) -> arm`` and ``update(context, arm, reward)``, as
``ThompsonSampling`` does. The linear agents take per-arm contexts ``(K, d)`` (one shared
coefficient vector) or a shared context ``(d,)`` (one coefficient vector per arm, handled as the
per-arm features ``e_arm (x) x`` of length ``K d``).

>>> from ppl.decide import LinUCB, LinearBandit, simulate
>>> env = LinearBandit(num_arms=3, num_features=4, seed=0)
>>> regret = simulate(LinUCB(3), env, horizon=50, seed=0)
>>> regret.shape, bool(regret[25:].mean() < regret[:25].mean())
((50,), True)
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import OptionError, ShapeError

__all__ = [
    "EpsilonGreedy",
    "LassoBandit",
    "LinUCB",
    "LinearTS",
    "RandomAgent",
    "arm_features",
    "lasso",
]


def arm_features(context, num_arms: int) -> np.ndarray:
    """The ``(K, D)`` feature matrix of one round: per-arm contexts ``(K, d)`` as they are, a
    shared context ``(d,)`` as ``e_arm (x) x`` (``D = K d``), no context as ``e_arm``.

    >>> arm_features([1.0, 2.0], 2)
    array([[1., 2., 0., 0.],
           [0., 0., 1., 2.]])
    """
    if context is None:
        return np.eye(num_arms)
    x = np.asarray(context, dtype=float)
    if x.ndim == 1:
        return np.kron(np.eye(num_arms), x[None, :])
    if x.ndim == 2 and x.shape[0] == num_arms:
        return x
    raise ShapeError(
        f"A context has shape {x.shape}; expected ({num_arms}, d) per-arm features or (d,)."
    )


def _argmax(values, rng) -> int:
    best = np.flatnonzero(values == values.max())
    return int(best[0] if len(best) == 1 else rng.choice(best))


class RandomAgent:
    """Plays an arm uniformly at random.

    >>> from ppl.decide import RandomAgent
    >>> RandomAgent(3, seed=0).act(None) in (0, 1, 2)
    True
    """

    def __init__(self, num_arms: int, seed: int = 0):
        self.num_arms, self._rng = num_arms, np.random.default_rng(seed)

    def act(self, context=None) -> int:
        return int(self._rng.integers(self.num_arms))

    def update(self, context, arm, reward) -> None:
        pass


class _Ridge:
    """Running ridge regression ``A = lam I + sum x x^T``, ``b = sum r x`` with its inverse
    (Sherman-Morrison), over features of length ``D`` (set on the first round)."""

    def __init__(self, num_arms: int, ridge: float, seed: int):
        if ridge <= 0:
            raise OptionError(f"ridge must be positive, got {ridge}.")
        self.num_arms, self.ridge, self.scale = num_arms, ridge, 1.0
        self._rng = np.random.default_rng(seed)
        self.a_inv = self.b = None

    def features(self, context) -> np.ndarray:
        x = arm_features(context, self.num_arms)
        if self.a_inv is None:
            self.a_inv = np.eye(x.shape[1]) / self.ridge
            self.b = np.zeros(x.shape[1])
        return x

    @property
    def theta(self) -> np.ndarray:
        return self.a_inv @ self.b

    def update(self, context, arm, reward) -> None:
        x = self.features(context)[arm] * self.scale
        ax = self.a_inv @ x
        self.a_inv -= np.outer(ax, ax) / (1.0 + x @ ax)
        self.b += reward * self.scale * x


class LinUCB(_Ridge):
    """LinUCB (Li et al. 2010; Abbasi-Yadkori et al. 2011): the arm maximising
    ``x . theta + alpha * sqrt(x^T A^-1 x)`` for the ridge estimate ``theta``."""

    def __init__(self, num_arms: int, alpha: float = 1.0, ridge: float = 1.0, seed: int = 0):
        super().__init__(num_arms, ridge, seed)
        self.alpha = alpha

    def act(self, context=None) -> int:
        x = self.features(context)
        width = np.sqrt(np.einsum("kd,de,ke->k", x, self.a_inv, x))
        return _argmax(x @ self.theta + self.alpha * width, self._rng)


class LinearTS(_Ridge):
    """Linear Thompson sampling with the closed-form Gaussian posterior (Agrawal & Goyal 2013):
    prior ``theta ~ Normal(0, prior_var I)``, known noise sd ``noise_scale``; each round a draw
    ``theta ~ Normal(A^-1 b, v^2 A^-1)`` with ``A = I / prior_var + X^T X / noise^2`` and
    ``v = inflation``."""

    def __init__(
        self,
        num_arms: int,
        prior_var: float = 1.0,
        noise_scale: float = 1.0,
        inflation: float = 1.0,
        seed: int = 0,
    ):
        super().__init__(num_arms, 1.0 / prior_var, seed)
        # precision I / prior_var + sum (x / sd)(x / sd)^T, and b = sum r x / sd^2
        self.scale, self.inflation = 1.0 / noise_scale, inflation

    def act(self, context=None) -> int:
        x = self.features(context)
        chol = np.linalg.cholesky(0.5 * (self.a_inv + self.a_inv.T))
        theta = self.theta + self.inflation * chol @ self._rng.standard_normal(len(self.b))
        return _argmax(x @ theta, self._rng)


class EpsilonGreedy(_Ridge):
    """With probability ``epsilon`` a random arm, otherwise the best under the ridge estimate."""

    def __init__(self, num_arms: int, epsilon: float = 0.1, ridge: float = 1.0, seed: int = 0):
        super().__init__(num_arms, ridge, seed)
        if not 0 <= epsilon <= 1:
            raise OptionError(f"epsilon must lie in [0, 1], got {epsilon}.")
        self.epsilon = epsilon

    def act(self, context=None) -> int:
        x = self.features(context)
        if self._rng.uniform() < self.epsilon:
            return int(self._rng.integers(self.num_arms))
        return _argmax(x @ self.theta, self._rng)


def lasso(gram, xty, lam: float, beta0=None, max_sweeps: int = 200, tol: float = 1e-6):
    """Coordinate descent for ``min_b (1/2) b^T G b - c^T b + lam |b|_1``: the Lasso
    ``(1/2n)|y - X b|^2 + lam |b|_1`` with ``G = X^T X / n``, ``c = X^T y / n``.

    Parameters
    ----------
    gram : (D, D) array
    xty : (D,) array
    lam : float
    beta0 : (D,) array, optional
        Warm start.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 5)); y = X @ np.array([2.0, 0, 0, -1.0, 0])
    >>> np.round(lasso(X.T @ X / 200, X.T @ y / 200, 0.01), 1) + 0.0
    array([ 2.,  0.,  0., -1.,  0.])
    """
    gram, xty = np.asarray(gram, float), np.asarray(xty, float)
    beta = np.zeros(len(xty)) if beta0 is None else np.array(beta0, dtype=float)
    diag = np.diag(gram)
    for _ in range(max_sweeps):
        largest = 0.0
        for j in range(len(beta)):
            if diag[j] <= 0:
                continue
            rho = xty[j] - gram[j] @ beta + diag[j] * beta[j]
            new = np.sign(rho) * max(abs(rho) - lam, 0.0) / diag[j]
            largest = max(largest, abs(new - beta[j]))
            beta[j] = new
        if largest < tol:
            break
    return beta


class LassoBandit:
    """A Lasso bandit in the style of Bastani & Bayati (2020), for per-arm or shared contexts.

    Forced exploration: rounds ``(2^n - 1) K q + j`` for ``n = 0, 1, ...`` and ``j`` in
    ``[0, q K)`` play arm ``j // q`` (Bastani & Bayati's schedule). Otherwise two Lasso estimates
    are used: the forced-sample estimate (penalty ``lam1``) keeps the arms whose estimated reward
    is within ``h / 2`` of the best, and among them the all-sample estimate (penalty
    ``lam2_t = lam2 * sqrt((log t + log D) / t)``) picks the best. Estimates are refitted by
    coordinate descent, warm-started, every ``refit_every`` rounds.
    """

    def __init__(
        self,
        num_arms: int,
        q: int = 1,
        h: float = 1.0,
        lam1: float = 0.1,
        lam2: float = 0.1,
        refit_every: int = 1,
        seed: int = 0,
    ):
        self.num_arms, self.q, self.h = num_arms, q, h
        self.lam1, self.lam2, self.refit_every = lam1, lam2, refit_every
        self._rng = np.random.default_rng(seed)
        self.t = 0
        self._forced_now = False
        self._stats = None  # {"all": [G, c, n], "forced": [G, c, n]}
        self.beta_all = self.beta_forced = None

    def _forced_arm(self, t: int):
        block = self.q * self.num_arms
        n = 0
        while (2**n - 1) * block <= t:
            start = (2**n - 1) * block
            if t < start + block:
                return (t - start) // self.q
            n += 1
        return None

    def act(self, context=None) -> int:
        x = arm_features(context, self.num_arms)
        if self._stats is None:
            dim = x.shape[1]
            self._stats = {k: [np.zeros((dim, dim)), np.zeros(dim), 0] for k in ("all", "forced")}
            self.beta_all, self.beta_forced = np.zeros(dim), np.zeros(dim)
        forced = self._forced_arm(self.t)
        self._forced_now = forced is not None
        if forced is not None:
            return int(forced)
        est = x @ self.beta_forced
        keep = np.flatnonzero(est >= est.max() - self.h / 2)
        values = x[keep] @ self.beta_all
        return int(keep[_argmax(values, self._rng)])

    def update(self, context, arm, reward) -> None:
        x = arm_features(context, self.num_arms)[arm]
        if self._stats is None:
            self.act(context)  # sets up the statistics
        names = ("all", "forced") if self._forced_now else ("all",)
        for name in names:
            stats = self._stats[name]
            stats[0] += np.outer(x, x)
            stats[1] += reward * x
            stats[2] += 1
        self.t += 1
        if self._forced_now:  # the forced-sample data changed
            gram, xty, n = self._stats["forced"]
            self.beta_forced = lasso(gram / n, xty / n, self.lam1, self.beta_forced)
        if self.t % self.refit_every == 0:
            gram, xty, n = self._stats["all"]
            lam = self.lam2 * math.sqrt((math.log(self.t) + math.log(len(xty))) / self.t)
            self.beta_all = lasso(gram / n, xty / n, lam, self.beta_all)
