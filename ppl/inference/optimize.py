"""Optimisation on a ``Problem``, written once: the MAP point in unconstrained space.

>>> import ppl
>>> from ppl import dist
>>> from ppl.inference.optimize import find_map
>>> def model():
...     ppl.sample("x", dist.Normal(3.0, 1.0))
>>> backend = ppl.get_backend("numpyro")
>>> problem = backend.problem(model)
>>> round(float(find_map(problem, backend.key(0))[0]), 3)
3.0
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize

__all__ = ["find_map"]


def find_map(problem, key, max_iterations: int = 1000):
    """The mode of the posterior in unconstrained space (Jacobians included): L-BFGS (scipy)
    over the backend's compiled value-and-gradient, from a uniform draw on (-2, 2). L-BFGS is
    invariant to the problem's scale in a way Adam is not, which matters for posteriors whose
    location is far from the origin or whose scales differ by orders of magnitude."""
    backend = problem.backend
    value_and_grad = backend.jit(backend.value_and_grad(problem.potential))
    start = problem.init(key, strategy="uniform")

    def fun(x):
        value, grad = value_and_grad(backend.asarray(x))
        value = float(value)
        if not math.isfinite(value):
            return math.inf, np.zeros_like(x)
        return value, np.asarray(backend.to_numpy(grad), dtype=np.float64)

    x0 = np.asarray(backend.to_numpy(start), dtype=np.float64)
    result = minimize(fun, x0, jac=True, method="L-BFGS-B", options={"maxiter": max_iterations})
    best = result.x if np.isfinite(result.fun) else x0
    return backend.asarray(best)
