"""The Gibbs family: discrete latent sites by Gibbs or Metropolis updates, continuous ones by
HMC, written once over the array layer (``gibbs``: one module, ``gibbs.gibbs``)."""

from ...core.lazy import submodule_getattr

__all__: list[str] = []

__getattr__ = submodule_getattr(__name__)  # its submodules, imported on first use
