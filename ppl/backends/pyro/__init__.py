"""The Pyro (PyTorch) backend."""
