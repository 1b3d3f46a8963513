"""Diffusion samplers with log-normalizer estimates: CMCD and its baselines ULA, MCD and AIS.

All four anneal from a diagonal Gaussian ``q0`` to the target along ``pi_beta ∝ q0^(1 - beta)
pi^beta`` in ``K`` steps and weight each path, so ``Posterior.log_z`` estimates the target's log
normalizing constant (unbiased in ``Z``) and ``Posterior.diagnostics["ess"]`` tells how good the
weights are. They share one implementation (``path.Diffusion``) and differ in the kernels:

- ``ais``: annealed importance sampling with MALA moves (Neal 2001); nothing is trained
  (``num_steps`` adapts the step size, and may be 0).
- ``ula``: unadjusted Langevin annealing with the Langevin kernel as its own backward kernel
  (Thin et al. 2021); the schedule, step size and ``q0`` are learned.
- ``mcd``: Monte Carlo diffusion (Doucet et al. 2022): ULA plus a learned backward drift.
- ``cmcd``: Controlled Monte Carlo Diffusions (Vargas et al. 2024): one learned control added to
  the forward drift and subtracted in the backward one, so the forward process can follow the
  annealed path exactly.

Modules: ``base`` (options, variants, the ``init``/``step``/``sample`` triple), ``path`` (the
kernels, paths, log-weights and losses), ``q0`` (the initial Gaussian and its VI fit), and one
small module per registered algorithm.
"""

from ...core.lazy import submodule_getattr

__all__: list[str] = []

__getattr__ = submodule_getattr(__name__)  # its submodules, imported on first use
