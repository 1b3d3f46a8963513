"""The NumPyro (JAX) backend."""
