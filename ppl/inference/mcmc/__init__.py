"""MCMC by name: the backends' own NUTS and HMC kernels, run by the one driver."""

from ...core.lazy import submodule_getattr

__all__: list[str] = []

__getattr__ = submodule_getattr(__name__)  # its submodules, imported on first use
