"""MCMC by name: the backends' own NUTS and HMC kernels, run by the one driver."""
