"""Bandit environments in numpy: a linear contextual bandit and a Bernoulli bandit.

An environment has ``num_arms``, ``reset(seed)``, ``context()`` (the next round's context, which
it remembers), ``mean_rewards()`` (the expected reward of every arm for that context) and
``reward(arm)`` (a noisy draw). The randomness of a round does not depend on the arm played
(one noise draw per round), so agents run with the same seed see the same contexts and noise.

>>> from ppl.decide import LinearBandit
>>> env = LinearBandit(num_arms=3, num_features=4, sparsity=2, seed=0)
>>> env.reset(1)
>>> env.context().shape, env.mean_rewards().shape, int((env.beta != 0).sum())
((3, 4), (3,), 2)
"""

from __future__ import annotations

import numpy as np

from ..errors import OptionError, did_you_mean

__all__ = ["COVARIANCES", "BernoulliBandit", "LinearBandit", "covariance_matrix"]

COVARIANCES = ("identity", "equicorrelated", "ar1")


def covariance_matrix(num_features: int, kind: str = "identity", rho: float = 0.3) -> np.ndarray:
    """The ``d x d`` covariance of the contexts: identity, equicorrelated (``1`` on the
    diagonal, ``rho`` off it) or AR(1) (``rho**|i - j|``).

    >>> covariance_matrix(3, "ar1", 0.5)
    array([[1.  , 0.5 , 0.25],
           [0.5 , 1.  , 0.5 ],
           [0.25, 0.5 , 1.  ]])
    """
    if kind not in COVARIANCES:
        raise OptionError(
            f"Unknown covariance {kind!r}; choose one of {COVARIANCES}."
            + did_you_mean(kind, COVARIANCES)
        )
    if kind == "identity":
        return np.eye(num_features)
    if not -1 < rho < 1:
        raise OptionError(f"rho must lie in (-1, 1), got {rho}.")
    if kind == "equicorrelated":
        return np.full((num_features, num_features), rho) + (1 - rho) * np.eye(num_features)
    lags = np.abs(np.subtract.outer(np.arange(num_features), np.arange(num_features)))
    return rho**lags


class LinearBandit:
    """A linear contextual bandit: ``reward = x_arm . beta + noise``.

    Each round every arm gets a feature vector ``x_arm ~ Normal(0, Sigma)`` (per-arm contexts,
    shape ``(K, d)``, one shared ``beta``) or, with ``shared_context=True``, one context
    ``x ~ Normal(0, Sigma)`` of shape ``(d,)`` and one ``beta_arm`` per arm (``beta`` of shape
    ``(K, d)``).

    Parameters
    ----------
    num_arms, num_features : int
        ``K`` and ``d``.
    sparsity : int, optional
        ``s0``: the number of non-zero coefficients (per arm when shared); default all ``d``.
    covariance : {"identity", "equicorrelated", "ar1"}
        The contexts' covariance ``Sigma`` (see ``covariance_matrix``), with ``rho``.
    noise_scale : float
        Sd of the Gaussian reward noise.
    signal : (float, float)
        Non-zero coefficients have magnitude uniform on this range.
    signs : bool
        Give each non-zero coefficient a random sign (else all are positive).
    normalize : bool
        Scale the coefficient vector (each arm's, when shared) to unit Euclidean norm after
        drawing it (the setting of Chakraborty, Roy & Tewari 2023: uniform(0.3, 1) on the
        support, then normalised).
    beta : array_like, optional
        The true coefficients (then ``sparsity`` and ``signal`` are unused).
    seed : int
        Seeds ``beta`` (not the rounds: ``reset`` does that).
    """

    def __init__(
        self,
        num_arms: int,
        num_features: int,
        *,
        sparsity: int | None = None,
        covariance: str = "identity",
        rho: float = 0.3,
        noise_scale: float = 1.0,
        signal: tuple[float, float] = (0.5, 1.0),
        signs: bool = True,
        normalize: bool = False,
        shared_context: bool = False,
        beta=None,
        seed: int = 0,
    ):
        self.num_arms, self.num_features = int(num_arms), int(num_features)
        self.shared_context, self.noise_scale = shared_context, float(noise_scale)
        self.cov = covariance_matrix(num_features, covariance, rho)
        self._chol = np.linalg.cholesky(self.cov)
        shape = (num_arms, num_features) if shared_context else (num_features,)
        if beta is not None:
            beta = np.asarray(beta, dtype=float)
            if beta.shape != shape:
                raise OptionError(f"beta has shape {beta.shape}; this bandit needs {shape}.")
            self.beta = beta
        else:
            rng = np.random.default_rng(seed)
            s0 = num_features if sparsity is None else int(sparsity)
            if not 0 < s0 <= num_features:
                raise OptionError(f"sparsity must lie in [1, {num_features}], got {sparsity}.")
            rows = [
                self._sparse_row(rng, s0, signal, signs, normalize)
                for _ in range(shape[0] if shared_context else 1)
            ]
            self.beta = np.stack(rows) if shared_context else rows[0]
        self.reset(0)

    def _sparse_row(self, rng, s0, signal, signs, normalize):
        row = np.zeros(self.num_features)
        support = rng.choice(self.num_features, s0, replace=False)
        row[support] = rng.uniform(*signal, size=s0)
        if signs:
            row[support] *= rng.choice([-1.0, 1.0], size=s0)
        return row / np.linalg.norm(row) if normalize else row

    def reset(self, seed: int = 0) -> None:
        """Restart the sequence of rounds from ``seed``."""
        self._rng = np.random.default_rng(seed)
        self._context = None

    def context(self) -> np.ndarray:
        """The next round's context: ``(K, d)``, or ``(d,)`` when shared."""
        rows = 1 if self.shared_context else self.num_arms
        draw = self._rng.standard_normal((rows, self.num_features)) @ self._chol.T
        self._context = draw[0] if self.shared_context else draw
        self._noise = self._rng.standard_normal()
        return self._context.copy()

    def mean_rewards(self) -> np.ndarray:
        """The expected reward of every arm for the current context."""
        if self._context is None:
            raise OptionError("Call context() before mean_rewards() or reward().")
        if self.shared_context:
            return self.beta @ self._context
        return self._context @ self.beta

    def reward(self, arm: int) -> float:
        """A noisy reward for playing ``arm`` in the current round."""
        return float(self.mean_rewards()[arm] + self.noise_scale * self._noise)


class BernoulliBandit:
    """``K`` arms paying 1 with probabilities ``probs`` (no context: ``context()`` is ``None``).

    >>> from ppl.decide import BernoulliBandit
    >>> env = BernoulliBandit([0.2, 0.8])
    >>> env.context() is None, env.mean_rewards().tolist()
    (True, [0.2, 0.8])
    """

    def __init__(self, probs):
        self.probs = np.asarray(probs, dtype=float)
        if self.probs.ndim != 1 or ((self.probs < 0) | (self.probs > 1)).any():
            raise OptionError(f"probs must be a vector in [0, 1], got {probs!r}.")
        self.num_arms = len(self.probs)
        self.reset(0)

    def reset(self, seed: int = 0) -> None:
        """Restart the sequence of rounds from ``seed``."""
        self._rng = np.random.default_rng(seed)
        self._u = None

    def context(self) -> None:
        """No context; draws the round's randomness."""
        self._u = self._rng.uniform()
        return None

    def mean_rewards(self) -> np.ndarray:
        """The probability of each arm."""
        return self.probs.copy()

    def reward(self, arm: int) -> float:
        """1.0 with probability ``probs[arm]``."""
        if self._u is None:
            raise OptionError("Call context() before reward().")
        return float(self._u < self.probs[arm])
