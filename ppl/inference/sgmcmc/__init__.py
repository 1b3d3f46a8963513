"""The stochastic-gradient MCMC family, written once against the ``Backend`` protocol.

``sgld``, ``psgld``, ``sghmc``, ``sgnht``, ``cyclical_sgld`` (SGLD with a cyclical step size) and
``structured_sgmcmc``: one module each, sharing the options, schedules, minibatch gradient and
update rules of ``base``. Minibatches come from the model's own
``ppl.plate(name, N, subsample_size=B)`` or from the ``batch_size=`` option.
"""

from ...core.lazy import submodule_getattr

__all__: list[str] = []

__getattr__ = submodule_getattr(__name__)  # its submodules, imported on first use
