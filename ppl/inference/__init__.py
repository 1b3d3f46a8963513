"""Inference: the registry of algorithms, the one driver loop, and ``Posterior``.

The algorithm contract (ARCHITECTURE.md, at the repository root, shows it with the driver and the
layers). A registered target is a module, written once against the
``Backend`` protocol (``problem.backend``), with:

- ``Options``: a frozen dataclass of the algorithm's options with defaults and docstrings.
- ``KIND``: ``"mcmc"`` (every step is a Markov transition; the driver keeps ``state.position``,
  a flat unconstrained vector, at the kept steps after ``options.num_warmup``) or ``"fit"`` (the
  steps optimise something, ``options.num_steps`` of them; draws then come from ``sample``).
- ``init(problem, key, options) -> state`` and
  ``step(state, key, problem, options) -> (state, info)``, pure functions; ``state`` and
  ``info`` are NamedTuples of arrays (``info`` holds per-step scalars: ``loss``,
  ``accept_prob``, ``step_size``, ``diverging``, ...). The driver binds ``problem`` and
  ``options`` and runs ``step`` inside ``jit`` + chunked ``scan`` on JAX, a plain loop on torch.
- for ``"fit"``: ``sample(state, key, problem, options, num_samples) -> Draws`` (flat draws and,
  where the algorithm has them, importance log-weights, from which ``Posterior.log_z`` follows).
- optionally, ``check_info(problem, options, info, first_step, method)``: called by the driver
  after every chunk of steps with that chunk's ``info`` as numpy; it raises (naming what went
  wrong and the step) where a step had to be halted inside the compiled loop.

``ppl/inference/mcmc/nuts.py`` is a small example of the contract.
"""
