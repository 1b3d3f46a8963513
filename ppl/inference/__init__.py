"""Inference: the registry of algorithms, the one driver loop, and ``Posterior``.

The algorithm contract (``ppl.core.algorithm``; ARCHITECTURE.md, at the repository root, shows it
with the driver and the layers). A registered target is a module, written once against the
``Backend`` protocol (``problem.backend``), with:

- ``Options``: a frozen dataclass of the algorithm's options with defaults and docstrings.
- ``CAPABILITIES``: a ``ppl.core.Capabilities``, what the algorithm declares it does: ``kind``
  (``"mcmc"``: every step is a Markov transition and the driver keeps ``state.position``, a
  flat unconstrained vector, at the kept steps; ``"fit"``: the steps fit something and the
  draws come from ``sample``), ``minibatch`` (it takes ``batch_size``), ``stops_early`` (with
  its ``convergence_rule``) and ``shares_compiled_steps``.
- ``build(problem, options) -> Algorithm``: pure functions that close over the problem, the
  options and what ``build`` made once (a backend kernel, a network, an optimizer):
  ``init(key) -> state``, ``step(state, key) -> (state, info)``, for ``"fit"``
  ``sample(state, key, n) -> Draws``, and optionally ``converged(losses)``,
  ``check_info(info, first_step, method)`` and ``warm_start(state)``. ``state`` and ``info``
  are NamedTuples of arrays; every value carried between steps is in ``state``.

The driver (``driver.run``) calls ``build`` once per run, and again on the problem bound to a
compiled function's data, so that a second run on data of the same shapes compiles nothing. The
run's settings (seed, chains, warmup, thinning, checkpoints, progress) are one
``ppl.core.RunConfig`` that ``ppl.infer`` builds.

``ppl/inference/mcmc/nuts.py`` is a small example of the contract.
"""

from ..core.lazy import submodule_getattr

__all__: list[str] = []

__getattr__ = submodule_getattr(__name__)  # its submodules, imported on first use
