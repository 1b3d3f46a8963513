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

from .compiled import compiled

__all__ = ["find_map"]


def find_map(problem, key, max_iterations: int = 1000, num_starts: int = 4):
    """The mode of the posterior in unconstrained space (Jacobians included).

    L-BFGS (scipy) over the backend's compiled value-and-gradient, from ``num_starts`` uniform
    draws on (-2, 2); the best end point is polished by one more L-BFGS run (a line search that
    gives up early in single precision is common). L-BFGS is invariant to the problem's scale in
    a way Adam is not, which matters for posteriors whose location is far from the origin or
    whose scales differ by orders of magnitude.
    """
    backend = problem.backend
    # compiled with the data as arguments: a second search on data of the same shapes is free
    value_and_grad = compiled(problem, "value_and_grad", lambda p: p.value_and_grad)

    def fun(x):
        value, grad = value_and_grad(backend.asarray(x))
        value = float(value)
        if not math.isfinite(value):
            return math.inf, np.zeros_like(x)
        return value, np.asarray(backend.to_numpy(grad), dtype=np.float64)

    def descend(x0):
        result = minimize(fun, x0, jac=True, method="L-BFGS-B", options={"maxiter": max_iterations})
        return (result.x, result.fun) if np.isfinite(result.fun) else (x0, fun(x0)[0])

    keys = backend.split(key, num_starts)
    ends = []
    for i in range(num_starts):
        start = problem.init(keys[i], strategy="uniform")
        ends.append(descend(np.asarray(backend.to_numpy(start), dtype=np.float64)))
    best, _ = descend(min(ends, key=lambda end: end[1])[0])
    return backend.asarray(best)
