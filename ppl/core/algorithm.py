"""The algorithm contract: what the driver runs (``Algorithm``), what an algorithm declares it can
do (``Capabilities``) and the settings of one run (``RunConfig``).

A registered algorithm is a module with ``Options`` (a frozen dataclass), ``CAPABILITIES`` and
``build(problem, options) -> Algorithm``. ``build`` does once what every step needs (the
backend's kernel or runner, a network's layout, an optimizer) and closes over it and over the
problem; every value carried between steps is in the state. The driver calls ``build`` once for
the run and again, inside a compiled function, on the problem bound to that function's data
arguments (``ppl.inference.compiled``), so ``build`` must do no work that depends on a random
key or on the data's values.

>>> caps = Capabilities(kind="fit", stops_early=True, convergence_rule="the loss settled")
>>> caps.minibatch, caps.shares_compiled_steps
(False, False)
>>> Capabilities(kind="markov")
Traceback (most recent call last):
    ...
ppl.errors.OptionError: Capabilities.kind must be one of ('mcmc', 'fit'), got 'markov'.
>>> from types import SimpleNamespace
>>> options = SimpleNamespace(num_warmup=10, num_samples=5, num_chains=2, thinning=2)
>>> RunConfig.for_options("mcmc", options, seed=3).total_steps
20
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..errors import OptionError

__all__ = ["KINDS", "Algorithm", "Capabilities", "RunConfig"]

#: ``"mcmc"``: every step is a Markov transition and the driver keeps ``state.position`` (the
#: flat unconstrained point) at the kept steps; ``"fit"``: the steps fit something, and the
#: draws come from ``Algorithm.sample`` afterwards
KINDS = ("mcmc", "fit")


@dataclass(frozen=True)
class Capabilities:
    """What an algorithm declares it can do; the driver and ``ppl.infer`` read only these.

    kind: one of ``KINDS``. minibatch: the algorithm takes minibatch gradients; its options
    have ``batch_size`` (an int, or ``{plate: size}``), which ``ppl.infer`` applies as the
    subsample size of the model's plates, and ``compile=True`` compiles its minibatch
    gradient on backends that compile on request. stops_early: the algorithm may stop when
    ``Algorithm.converged`` says so (``build`` leaves ``converged`` ``None`` where the options
    turn early stopping off); convergence_rule: the rule in words, for the warning when the
    budget runs out first. shares_compiled_steps: ``step``, ``sample`` and the start depend on
    the problem, the options and the state alone, so the driver compiles them once per
    process for the model and the data's shapes. data_parallel: the algorithm takes its
    minibatch gradients from ``ppl.inference.data_parallel.gradient``, so ``devices=N``
    splits each minibatch over ``N`` devices. discrete: the algorithm updates discrete
    latent sites itself, so ``ppl.infer`` builds the problem with them in its layout
    (``Problem.discrete``) rather than refuse them. compiles_step: ``step`` is array operations
    alone (no Python reads of array values), so ``compile=True`` compiles it on its own on
    backends that run the loop eagerly (``ArrayBackend.compile_step``).
    """

    kind: str
    minibatch: bool = False
    stops_early: bool = False
    convergence_rule: str = ""
    shares_compiled_steps: bool = False
    data_parallel: bool = False
    discrete: bool = False
    compiles_step: bool = False
    #: latent sites inside a subsampled plate (local latents, fitted by an amortized guide)
    #: are accepted: ``ppl.infer`` builds the problem with ``local_latents=True``
    local_latents: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise OptionError(f"Capabilities.kind must be one of {KINDS}, got {self.kind!r}.")
        if self.stops_early and not self.convergence_rule:
            raise OptionError(
                "Capabilities(stops_early=True) needs convergence_rule, the rule in words."
            )


class Algorithm(NamedTuple):
    """One algorithm built on one problem with one set of options (``build(problem, options)``).

    init: ``(key) -> state``, a NamedTuple (a tree) of arrays; for ``"mcmc"`` it has
    ``position``. step: ``(state, key) -> (state, info)``, a pure function (``info``: a
    NamedTuple of per-step scalars such as ``loss``, ``accept_prob``, ``diverging``); the driver
    runs it inside ``jit`` + chunked ``scan`` on JAX. capabilities: the ``Capabilities``.
    sample: ``(state, key, n) -> Draws`` of a ``"fit"`` algorithm (``None`` for ``"mcmc"``).
    converged: ``(losses) -> bool``, the early-stopping rule over the losses so far (``None``:
    runs every step). check_info: ``(info, first_step, method) -> None``, called after every
    chunk of steps with that chunk's ``info`` as numpy arrays; raises (naming what went wrong
    and the step) where a step went bad inside the compiled loop. warm_start:
    ``(state) -> WarmStart or None``, the warm start the state carries (its cost and summary go
    to the ``Posterior``). params: ``(state) -> {name: array}``, the fitted parameters
    (constrained; a network's weights through ``ppl.module``), kept as ``Posterior.params``.
    vectorized: ``() -> Algorithm``, the same algorithm over stacked chains, for
    ``chain_method="vectorized"`` on a backend that cannot ``vmap`` ``step``: its ``init(key)``
    gives one chain's state and its ``step`` takes the stacked states and one key per chain
    (a leading chain axis on all); it raises ``NotImplementedError`` with the reason where the
    problem cannot be vectorised (``None``: the algorithm has no such form).
    """

    init: Callable[[Any], Any]
    step: Callable[[Any, Any], tuple[Any, Any]]
    capabilities: Capabilities
    sample: Callable[[Any, Any, int], Any] | None = None
    converged: Callable[[Any], bool] | None = None
    check_info: Callable[[dict, int, str], None] | None = None
    warm_start: Callable[[Any], Any] | None = None
    params: Callable[[Any], dict] | None = None
    vectorized: Callable[[], Algorithm] | None = None


@dataclass(frozen=True)
class RunConfig:
    """The settings of one run, apart from the algorithm's own options.

    seed: the seed of the run's keys. device: where it runs (``None``: the backend's default).
    chain_method: how chains run (``"vectorized"``, ``"parallel"`` over devices,
    ``"sequential"``; ``None``: vectorized where the backend can map a model over chains, else
    sequential). devices: how many devices share every minibatch gradient
    (``ppl.inference.data_parallel``; 1: one). progress: a progress bar (``None``: when
    stderr is a terminal). checkpoint_every /
    checkpoint_path / resume_from: see ``ppl.infer``. num_chains: chains (``"mcmc"``).
    num_warmup: steps discarded before the first kept one. thinning: keep every n-th step
    after warmup. num_samples: draws kept per chain (``"mcmc"``) or drawn from the fit.
    total_steps: steps the loop runs per chain (``num_warmup + num_samples * thinning`` for
    ``"mcmc"``, the option ``num_steps`` for ``"fit"``). compile_step: compile the step on its
    own where the backend runs the loop eagerly (``compile=True`` with an algorithm whose
    ``Capabilities.compiles_step``). compile_engine: the compiler of that step where the
    backend has several (``compile="inductor"``); None: the backend's default.
    """

    total_steps: int
    num_samples: int
    num_chains: int = 1
    num_warmup: int = 0
    thinning: int = 1
    seed: int = 0
    device: str | None = None
    chain_method: str | None = None
    devices: int = 1
    progress: bool | None = None
    checkpoint_every: int | None = None
    checkpoint_path: str | None = None
    resume_from: str | None = None
    compile_step: bool = False
    compile_engine: str | None = None

    @classmethod
    def for_options(cls, kind: str, options, **settings) -> RunConfig:
        """The run of an algorithm of ``kind`` with validated ``options``: the counts as the
        options give them (``"mcmc"`` options have ``num_warmup``, ``num_samples``,
        ``num_chains`` and ``thinning``; ``"fit"`` options ``num_steps`` and ``num_samples``),
        and ``settings`` (seed, device, progress, checkpoints)."""
        if kind == "mcmc":
            warmup, thinning = options.num_warmup, options.thinning
            return cls(
                total_steps=warmup + options.num_samples * thinning,
                num_samples=options.num_samples,
                num_chains=options.num_chains,
                num_warmup=warmup,
                thinning=thinning,
                **settings,
            )
        return cls(total_steps=options.num_steps, num_samples=options.num_samples, **settings)
