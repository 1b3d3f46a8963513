"""Thompson sampling over any registered posterior.

Each round: draw one parameter from the current posterior, play the arm that is best under it,
observe the reward; every ``update_every`` rounds, recompute the posterior of the reward model
(see ``ppl.decide.reward_models`` for its convention) with ``ppl.infer`` and the algorithm named
by ``posterior``, warm-started at the previous posterior mean. Between updates the draws come
from the last posterior's sample (a fresh one each round), and before the first update from the
prior.

>>> from ppl.decide import ThompsonSampling, bernoulli_reward_model
>>> quick = {"num_steps": 30, "init": "median", "whiten": False, "tol": 0}
>>> ts = ThompsonSampling(bernoulli_reward_model(2), "svi", quick, backend="pyro", update_every=5)
>>> for t in range(5):
...     arm = ts.act()
...     ts.update(None, arm, float(arm == 1))
>>> ts.num_updates, ts.posterior.method, ts.posterior.samples["p"].shape
(1, 'svi', (1, 100, 2))

For a fixed budget per update, give the posterior algorithm a short, warm-started run: for
``svi``, ``{"init": "median", "whiten": False, "num_steps": 100-300, "lr": 0.05-0.1, "tol": 0}``
(the default ``init="map"`` runs L-BFGS from several starts and a Hessian at every update).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping

import numpy as np

from ..backends import backend as use_backend
from ..backends import get_backend
from ..errors import ModelError, OptionError, ShapeError, did_you_mean
from ..inference import registry
from .algorithm import algorithms
from .reward_models import RewardModel

__all__ = ["LAYOUTS", "ThompsonSampling", "DEFAULT_POSTERIOR_OPTIONS", "padded_history"]

#: the smallest capacity of a padded history (see ``padded_history``)
MIN_CAPACITY = 16

#: context layouts: name -> (ndim of one round's context, description)
LAYOUTS = {
    "per_arm": (2, "one feature vector per arm, shape (K, d)"),
    "shared": (1, "one context vector shared by the arms, shape (d,)"),
    "none": (0, "no context (None)"),
}

#: options applied when the posterior algorithm has them and the user did not set them: Thompson
#: sampling uses at most ``update_every`` draws of each posterior, so a small sample suffices.
DEFAULT_POSTERIOR_OPTIONS = {"num_samples": 100}

_SEED_MOD = 2**31 - 1

#: when ``ThompsonSampling`` recomputes its posterior (see its ``update_every``)
SCHEDULES = ("every", "doubling")


class ThompsonSampling:
    """Thompson sampling with a ``ppl`` reward model and any registered posterior algorithm.

    Parameters
    ----------
    model : RewardModel or callable
        ``model(contexts, arms, rewards=None)`` (convention in ``ppl.decide.reward_models``).
        A ``RewardModel`` brings its ``expected_reward``, context layout and number of arms.
    posterior : str
        A registered inference algorithm (``ppl.algorithms()``): ``"svi"``, ``"nuts"``,
        ``"sgld"``, ...
    posterior_options : dict, optional
        That algorithm's options (validated now). ``DEFAULT_POSTERIOR_OPTIONS`` fill the ones
        the algorithm has and the dict leaves out. When the algorithm takes a ``guide``, the
        options name none and the ``RewardModel`` has a ``guide`` (the spike-and-slab model),
        that guide is used, its parameters started at the previous posterior (its
        ``guide_start``) when ``warm_start``.
    expected_reward : callable, optional
        ``expected_reward(params, context) -> (K,)`` for a plain model function; without it the
        model's ``"mean_reward"`` site is read.
    num_arms : int, optional
        ``K``, where neither the model nor the contexts tell it.
    update_every : int
        Recompute the posterior every this many observed rounds (``schedule="every"``), or
        after ``update_every``, twice, four times, ... that many (``schedule="doubling"``, the
        bandit literature's doubling trick: early posteriors when they matter most, about
        ``log2(T / update_every)`` computations in ``T`` rounds).
    schedule : {"every", "doubling"}
        When to recompute the posterior (see ``update_every``).
    warm_start : bool
        Start each posterior computation at the previous posterior mean (``ppl.infer``'s
        ``init_values``).
    backend : str, optional
        Backend name (default: the active one).
    seed : int
        Seeds the arm draws and, through it, every posterior computation: the same seed gives
        the same actions.

    Attributes
    ----------
    posterior : Posterior or None
        The latest posterior.
    num_updates : int
        Posterior computations so far.
    update_seconds : list of float
        Wall time of each posterior computation.
    """

    def __init__(
        self,
        model,
        posterior: str = "svi",
        posterior_options: Mapping | None = None,
        *,
        expected_reward: Callable | None = None,
        num_arms: int | None = None,
        update_every: int = 1,
        schedule: str = "every",
        warm_start: bool = True,
        backend: str | None = None,
        seed: int = 0,
    ):
        self._guide, self._guide_start, self._pads = None, None, False
        if isinstance(model, RewardModel):
            self.model, self._pads = model.model, model.masks_rounds
            self._guide, self._guide_start = model.guide, model.guide_start
            self.expected_reward = expected_reward or model.expected_reward
            self.layout = model.context
            self.num_arms = num_arms or model.num_arms
            self.num_features = model.num_features
        elif callable(model):
            self.model, self.expected_reward = model, expected_reward
            self.layout, self.num_arms, self.num_features = None, num_arms, None
        else:
            raise OptionError(
                f"ThompsonSampling needs a reward model (a function model(contexts, arms, "
                f"rewards=None) or a RewardModel), not {type(model).__name__}."
            )
        if not isinstance(posterior, str):
            raise OptionError(
                f"posterior must name a registered inference algorithm, not {posterior!r}."
            )
        if posterior in {spec.name for spec in algorithms()}:
            raise OptionError(
                f"posterior={posterior!r} is a decision algorithm; name an inference algorithm "
                "that computes a posterior, such as 'svi' or 'nuts'."
            )
        self.spec = registry.get(posterior)
        self.backend = get_backend(backend)
        if self.backend.name not in self.spec.backends:
            raise OptionError(
                f"{self.spec.name!r} runs on the backends {self.spec.backends}, not "
                f"{self.backend.name!r}."
            )
        options = dict(posterior_options or {})
        registry.validate_options(self.spec, options)
        defaults = self.spec.defaults()
        for key, value in DEFAULT_POSTERIOR_OPTIONS.items():
            if key in defaults:
                options.setdefault(key, value)
        self.posterior_options = options
        if "guide" in options or "guide" not in defaults:
            self._guide = None  # the user's guide, or an algorithm without one
        if not isinstance(update_every, int) or update_every < 1:
            raise OptionError(f"update_every must be a positive integer, got {update_every!r}.")
        if schedule not in SCHEDULES:
            raise OptionError(
                f"schedule must be one of {SCHEDULES}, got {schedule!r}."
                + did_you_mean(str(schedule), SCHEDULES)
            )
        self.update_every, self.schedule = update_every, schedule
        self.warm_start, self.seed = bool(warm_start), seed
        self._rng = np.random.default_rng(seed)
        self._contexts: list = []
        self._arms: list[int] = []
        self._rewards: list[float] = []
        self._context_shape: tuple | None = None
        self._draws: dict[str, np.ndarray] | None = None
        self._latent: tuple[str, ...] | None = None
        self._warm: dict | None = None
        self.posterior = None
        self.num_updates = 0
        self.update_seconds: list[float] = []
        self._warned: set[str] = set()

    # ---- inputs -------------------------------------------------------------------------
    def _check_context(self, context):
        if context is None:
            layout = "none"
        else:
            context = np.asarray(context, dtype=float)
            layout = {1: "shared", 2: "per_arm"}.get(context.ndim)
            if layout is None:
                raise ShapeError(
                    f"A context has shape {context.shape}; give one round's context: "
                    + "; ".join(f"{v[1]}" for v in LAYOUTS.values())
                    + "."
                )
        if self.layout is None:
            self.layout = layout
        if layout != self.layout:
            got = "None" if context is None else f"shape {context.shape}"
            raise ShapeError(
                f"This bandit takes {LAYOUTS[self.layout][1]}; the context given has {got}."
            )
        if context is None:
            return None
        if not np.isfinite(context).all():
            raise ModelError("The context holds NaN or inf values.")
        expected = self._context_shape
        if expected is None:
            if self.layout == "per_arm":
                expected = (
                    self.num_arms or context.shape[0],
                    self.num_features or context.shape[1],
                )
            else:
                expected = (self.num_features or context.shape[0],)
        if context.shape != expected:
            raise ShapeError(
                f"The context has shape {context.shape}, but this bandit's contexts have shape "
                f"{expected} ({LAYOUTS[self.layout][1]})."
            )
        self._context_shape = expected
        if self.layout == "per_arm":
            self.num_arms = expected[0]
        return context

    # ---- acting -------------------------------------------------------------------------
    def _next_seed(self) -> int:
        return int(self._rng.integers(_SEED_MOD))

    def _trace_one(self, context, params, observed: bool = False):
        """The model's trace on one round ``context`` (the reward left unobserved unless
        ``observed``: then a reward of 0), with ``params`` substituted when given."""
        from .. import handlers

        contexts = None if context is None else context[None]
        rewards = {"rewards": np.zeros(1)} if observed else {}
        args, kwargs = self.backend.convert_args((contexts, np.zeros(1, dtype=np.int64)), rewards)
        with use_backend(self.backend.name):
            fn = self.model
            if params is not None:
                data = {k: self.backend.asarray(v) for k, v in params.items()}
                fn = handlers.substitute(fn, data=data)
            try:
                return handlers.trace(handlers.seed(fn, rng_seed=self._next_seed())).get_trace(
                    *args, **kwargs
                )
            except Exception as err:
                if isinstance(err, (ModelError, OptionError)):
                    raise
                raise ModelError(
                    f"The reward model failed on one round's context ({type(err).__name__}): "
                    f"{err}. It must accept model(contexts, arms, rewards=None) with contexts "
                    f"{'None' if context is None else f'of shape {contexts.shape}'} and arms of "
                    "shape (1,)."
                ) from err

    def _values(self, tr) -> dict[str, np.ndarray]:
        to_numpy = self.backend.to_numpy
        return {
            name: np.asarray(to_numpy(site.value))
            for name, site in tr.items()
            if site.type in ("sample", "deterministic") and not site.is_observed
        }

    def _check_observed(self, context) -> None:
        """The model must observe the rewards: otherwise its posterior is its prior and Thompson
        sampling would never learn."""
        tr = self._trace_one(context, None, observed=True)
        if not any(site.is_observed for site in tr.values()):
            sampled = [name for name, site in tr.items() if site.type == "sample"]
            raise ModelError(
                "The reward model has no observed site: given rewards=..., none of its sample "
                f"sites {sampled} is observed, so its posterior would be its prior. Pass "
                "obs=rewards to the sample site of the reward, e.g. "
                "ppl.sample('reward', dist.Normal(mean, 1.0), obs=rewards)."
            )

    def expected_rewards(self, context=None) -> np.ndarray:
        """The expected reward of each arm under one draw from the current posterior (the prior
        before the first update): what ``act`` maximises."""
        context = self._check_context(context)
        if self._draws is None:
            tr = self._trace_one(context, None)
            params = self._values(tr)
            if self._latent is None:
                self._check_observed(context)
                self._latent = tuple(
                    name
                    for name, site in tr.items()
                    if site.type == "sample" and not site.is_observed and name in params
                )
        else:
            size = len(next(iter(self._draws.values())))
            index = int(self._rng.integers(size))
            params = {k: v[index] for k, v in self._draws.items()}
            tr = None
        if self.expected_reward is not None:
            values = self.expected_reward(params, context)
        else:
            if tr is None:
                latent = {k: v for k, v in params.items() if k in (self._latent or ())}
                tr = self._trace_one(context, latent)
            if "mean_reward" not in tr:
                raise ModelError(
                    "Thompson sampling needs the expected reward of every arm: give "
                    "expected_reward=fn(params, context) or record "
                    "ppl.deterministic('mean_reward', ...) of shape (n, K) in the model."
                )
            values = self.backend.to_numpy(tr["mean_reward"].value)
        values = np.asarray(values, dtype=float).reshape(-1)
        if self.num_arms is None:
            self.num_arms = values.shape[0]
        if values.shape != (self.num_arms,) or not np.isfinite(values).all():
            raise ModelError(
                f"The expected rewards have shape {values.shape} (finite: "
                f"{bool(np.isfinite(values).all())}); expected {self.num_arms} finite values, "
                "one per arm."
            )
        return values

    def act(self, context=None) -> int:
        """The arm to play for ``context``: the best under one posterior draw (ties at random).

        Parameters
        ----------
        context : array_like or None
            One round's context, in the layout of the model (``(K, d)``, ``(d,)`` or ``None``).
        """
        values = self.expected_rewards(context)
        best = np.flatnonzero(values == values.max())
        return int(best[0] if len(best) == 1 else self._rng.choice(best))

    # ---- learning -----------------------------------------------------------------------
    def update(self, context, arm: int, reward: float) -> None:
        """Record that ``arm`` was played for ``context`` and paid ``reward``; recompute the
        posterior when ``update_every`` rounds have come in since the last time."""
        context = self._check_context(context)
        if isinstance(arm, bool) or not isinstance(arm, (int, np.integer)):
            raise OptionError(f"arm must be an integer, got {arm!r}.")
        if self.num_arms is not None and not 0 <= int(arm) < self.num_arms:
            raise OptionError(f"arm {arm} is out of range for {self.num_arms} arms.")
        reward = float(reward)
        if not np.isfinite(reward):
            raise ModelError(f"The reward of round {len(self._rewards)} is {reward}.")
        self._contexts.append(context)
        self._arms.append(int(arm))
        self._rewards.append(reward)
        if self._due(len(self._rewards)):
            self._refit()

    def _due(self, rounds: int) -> bool:
        """Whether the posterior is recomputed after ``rounds`` observed rounds."""
        if self.schedule == "every":
            return rounds % self.update_every == 0
        ratio = rounds // self.update_every  # doubling: at update_every * 2^k
        return rounds % self.update_every == 0 and ratio & (ratio - 1) == 0

    def _refit(self) -> None:
        from ..inference.infer import infer

        contexts = None if self.layout == "none" else np.stack(self._contexts)
        arms = np.asarray(self._arms, dtype=np.int64)
        rewards = np.asarray(self._rewards, dtype=float)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            post = self._infer(infer, contexts, arms, rewards)
        for warning in caught:  # each distinct warning once per agent, not once per update
            text = str(warning.message)
            if text not in self._warned:
                self._warned.add(text)
                warnings.warn(
                    f"Thompson sampling, posterior update {self.num_updates + 1} (later updates "
                    f"that warn the same are not repeated): {text}",
                    warning.category,
                    stacklevel=3,
                )
        self.update_seconds.append(time.perf_counter() - start)
        draws = {}
        for name, value in post.samples.items():
            value = np.asarray(value)
            draws[name] = value.reshape((-1,) + value.shape[2:])
        if self._latent is None:
            self._latent = tuple(draws)
        self._draws = draws
        self._warm = {k: v.mean(axis=0) for k, v in draws.items() if k in self._latent}
        self.posterior = post
        self.num_updates += 1

    def _infer(self, infer, contexts, arms, rewards):
        options = self.posterior_options
        batch = options.get("batch_size")
        if isinstance(batch, int) and len(rewards) <= batch:  # early rounds: all data fit one batch
            options = {k: v for k, v in options.items() if k != "batch_size"}
        warm = self._warm if self.warm_start else None
        if self._guide is not None:  # the model's own guide, its parameters warm-started
            options = dict(options, guide=self._guide)
            warm = None if warm is None else self._guide_start(warm)
        elif callable(options.get("guide")):  # the user's guide function: its own start
            warm = None
        kwargs = {"rewards": rewards}
        if self._pads:  # padded to a doubling capacity: one compiled program per capacity
            contexts, arms, kwargs = padded_history(contexts, arms, rewards)
        return infer(
            self.model,
            self.spec.name,
            args=(contexts, arms),
            kwargs=kwargs,
            backend=self.backend.name,
            seed=self._next_seed(),
            progress=False,
            init_values=warm,
            **options,
        )


def padded_history(contexts, arms, rewards):
    """The ``n`` rounds so far padded to a capacity of ``max(MIN_CAPACITY, 2^ceil(log2 n))``
    rounds: ``(contexts, arms, {"rewards": ..., "valid": ...})`` with the padding's contexts,
    arms and rewards zero and ``valid`` false there, so a reward model with ``masks_rounds``
    leaves it out. A horizon of ``T`` rounds then sees ``O(log T)`` shapes, and each update on
    a shape seen before reuses its compiled program.

    >>> import numpy as np
    >>> _, arms, kw = padded_history(None, np.array([1, 0, 1]), np.array([1.0, 0.0, 1.0]))
    >>> arms.shape, kw["valid"].sum()
    ((16,), np.int64(3))
    """
    n = len(arms)
    capacity = max(MIN_CAPACITY, 1 << max(n - 1, 0).bit_length())
    valid = np.zeros(capacity, dtype=bool)
    valid[:n] = True

    def pad(x):
        out = np.zeros((capacity,) + x.shape[1:], dtype=x.dtype)
        out[:n] = x
        return out

    contexts = None if contexts is None else pad(np.asarray(contexts))
    return contexts, pad(np.asarray(arms)), {"rewards": pad(rewards), "valid": valid}
