"""Flow samplers with exact importance weights: stochastic normalizing flows and RealNVP.

Both push ``z ~ N(0, I)`` through a diagonal affine base layer and ``num_blocks`` RealNVP
blocks (affine coupling layers with small MLPs, ``ppl.inference.nn``), trained by the
energy-based reverse KL (``mean(-log w)`` over forward paths), optionally with maximum
likelihood on given samples (``data=``). Every draw carries an exact importance weight against
the target, so ``Posterior.log_z`` estimates the log normalizing constant and
``Posterior.diagnostics["ess"]`` tells how good the weights are; ``Posterior.samples`` holds the
generated draws as they come (unweighted), ``Posterior.diagnostics["log_weights"]`` their
log-weights for reweighting.

- ``realnvp``: the flow alone (Dinh et al. 2017), the baseline.
- ``snf``: a stochastic normalizing flow (Wu, Köhler & Noé, NeurIPS 2020): a stochastic block
  (random-walk Metropolis, MALA or ULA steps on the interpolated target) after each RealNVP
  block, each block's step size trained with the flow unless ``learn_step_size=False``; the
  stochastic blocks enter the weights through their backward/forward transition
  ratios, so nothing is marginalised.

Modules: ``blocks`` (the layers, paths, weights and likelihood), ``base`` (options, the
``init``/``step``/``sample`` triple), and one small module per registered algorithm.
"""

from ...core.lazy import submodule_getattr

__all__: list[str] = []

__getattr__ = submodule_getattr(__name__)  # its submodules, imported on first use
